"""Injectable clocks: the live hall uses the wall clock, tests and the simulation drive their own.

One clock per deployment. Everything that ages measures age on the clock the hall runs on —
the :class:`Clock` given to :class:`~queue_server.hall.HallService` (the server makes one
:class:`SystemClock` in ``app.ctx.clock`` and hands the same object to every part) — and never
reads a second clock of its own:

* events: ``ts``/``at`` of every event is the hall clock at decision time;
* idempotency records (both stores): aged from the answer's hall-clock ``at`` against the
  caller's hall-clock ``now`` (``stores/base.py``); Redis's ``EX`` only collects garbage;
* rate-limit windows (``ratelimit.py``, both the in-process and the Redis counters);
* session expiry and the cache of verified session tokens (``auth.Authority``);
* bookings' retention and no-show windows: measured against event times (``model.py``,
  ``appointments.py``), i.e. the hall clock as recorded;
* the live twin's freshness and every figure on the pages: ``service.clock``.

What is *not* hall time, on purpose: elapsed real time of this process's own work — solver
budgets, the memory store's job leases, the demo driver's run length, benchmark timings —
uses ``time.monotonic()``/``perf_counter()``; those measure how long the machine works, not
how old the hall's data is.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to (tests, simulation, accelerated demos)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def set(self, moment: float) -> None:
        self._now = moment

    def advance(self, seconds: float) -> None:
        self._now += seconds
