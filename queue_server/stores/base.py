"""The store contract: an append-only, per-hall event log with compare-and-set.

Both stores keep exactly three things per hall: the events (``seq`` 1, 2, 3 …),
the last ``seq``, and idempotency records. :meth:`Store.append` adds one event
only if the hall's last ``seq`` is still ``event.seq - 1`` and the idempotency key
(if any) is unused — atomically, so two processes can never both call the same
ticket: one wins, the other re-reads and decides again.

Group commit (:meth:`Store.begin` and :meth:`Store.commit`) is the same
compare-and-set over a run of events: a writer takes the hall's *turn*, learns
the last ``seq`` (with the events it has not seen and the idempotency records of
the keys it brings), decides a batch of commands, and appends all their events at
once — only if nobody appended since and none of the keys was used meanwhile, or
nothing at all. The turn is a short lease that keeps writers of one hall from
deciding on the same ``seq`` at the same time (which would waste their work); it
is never what makes a commit safe — the compare-and-set is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..model import Event

# How long a keyed command's first answer is given back to a retry. Measured on the *hall's*
# clock (the injected :class:`~queue_server.clock.Clock` of the HallService that executes the
# command, i.e. the clock that stamps the events), never on the machine's clock read inside a
# store: a hall whose clock differs from the machine's (a test's manual clock, a replayed day,
# a simulation) must see a record expire exactly when its own clock says 24 h have passed.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a keyed command answered the first time, which request it was, and when (``at``, the
    hall-clock time of that answer, in seconds since the epoch: its age is measured from there)."""

    fingerprint: str
    result: dict[str, Any]
    seq: int
    at: float

    def live_at(self, now: float) -> bool:
        """True while the record still answers a retry at hall-clock time ``now``."""
        return now - self.at <= IDEMPOTENCY_TTL_SECONDS

    @classmethod
    def from_json(cls, raw: str | bytes, now: float) -> IdempotencyRecord:
        """A record as a store keeps it (JSON); one written before records carried ``at`` counts as new."""
        data = json.loads(raw)
        data.setdefault("at", now)
        return cls(**data)


@dataclass(frozen=True, slots=True)
class AppendOutcome:
    status: Literal["ok", "conflict", "duplicate", "busy"]
    last_seq: int
    record: IdempotencyRecord | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """The answer to :meth:`Store.begin`.

    ``busy``: another writer has the hall's turn; ask again after ``wait`` seconds at
    most (:meth:`Store.wait_turn` returns as soon as the turn is handed over).
    Otherwise the caller has the turn: ``last_seq`` is the hall's last seq, ``events``
    the events after the caller's ``after`` (perhaps not all of them, when many),
    ``records`` the idempotency records found for the caller's keys.
    """

    busy: bool
    last_seq: int = 0
    events: tuple[Event, ...] = ()
    records: dict[str, IdempotencyRecord] = field(default_factory=dict)
    wait: float = 0.0


class Store(Protocol):
    # True when other processes may write the same halls (the hall's view must be
    # checked against the store before a decision counts): RedisStore.
    shared: bool

    async def append(self, event: Event, key: str | None, record: IdempotencyRecord | None) -> AppendOutcome:
        """Append ``event`` if ``event.seq`` follows the hall's last seq and ``key`` is unused.

        A key is *used* while its record is live at ``record.at`` (the new command's hall time):
        an expired record is replaced."""
        ...

    async def read(self, hall: str, after: int, limit: int | None = None) -> list[Event]:
        """Events of ``hall`` with ``seq > after``, in order."""
        ...

    async def last_seq(self, hall: str) -> int: ...

    async def idempotency(self, hall: str, key: str, now: float) -> IdempotencyRecord | None:
        """The record of ``key`` if it is live at hall-clock time ``now``, else None."""
        ...

    # Documents: a hall's derived results kept beside its log (e.g. the last weekly roster), so every
    # worker serving the hall sees the same one and a restart keeps it. Not events: never replayed.
    async def put_document(self, hall: str, name: str, text: str) -> None: ...

    async def get_document(self, hall: str, name: str) -> str | None: ...

    async def try_lease(self, hall: str, name: str, seconds: float) -> bool:
        """Take the lease ``name`` of ``hall`` for ``seconds`` unless someone holds it (one run at a time)."""
        ...

    async def release_lease(self, hall: str, name: str) -> None: ...

    async def begin(self, hall: str, writer: str, after: int, keys: list[str], now: float) -> Turn:
        """Take the hall's turn for ``writer`` (or learn that it is busy); see :class:`Turn`. The
        records returned are those of ``keys`` live at hall-clock time ``now``."""
        ...

    async def commit(
        self,
        hall: str,
        writer: str,
        after: int,
        events: list[Event],
        keyed: list[tuple[str, IdempotencyRecord]],
        *,
        unless_busy: bool = False,
    ) -> AppendOutcome:
        """Append ``events`` (seq ``after + 1`` …) if the hall's last seq is still ``after`` and no key of
        ``keyed`` is used — all or nothing — and hand the turn on (if ``writer`` has it).

        ``conflict``: someone appended since ``after``; ``duplicate``: a key is already used
        (``record`` is its record, live at the new record's ``at``); ``busy`` (only with
        ``unless_busy``, for a writer that did not take the turn): another writer has the turn,
        nothing was checked or stored. An
        empty ``events`` only checks ``after`` (a refusal is then known to be decided on the
        current state).
        """
        ...

    async def release(self, hall: str, writer: str) -> None:
        """Give the turn back without committing (after an error)."""
        ...

    async def wait_turn(self, hall: str, writer: str, timeout: float) -> None:
        """Wait until the turn may be free: handed to ``writer``, or ``timeout`` seconds."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot serve."""
        ...

    async def close(self) -> None: ...
