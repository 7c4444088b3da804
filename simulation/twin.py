"""The live twin: the hall as it is now, simulated forward.

:func:`forecast` starts the model from a snapshot of the live hall — the tickets
waiting, the tickets at windows and how long they have been served, which clerk
sits at which window — and runs it ``reps`` times over the next
``horizon_minutes`` with new citizens arriving by the day's profile. For every
waiting ticket it returns the predicted wait until its call: median, 90th
percentile and mean, in minutes. :func:`evaluate_moves` asks what moving a clerk
(调岗) would do to the waits, running each move on the very same random futures
as the hall without it (common random numbers), so the difference is the move's
and not chance's.

Tickets of the snapshot are assumed to wait until called (their remaining
patience is unknown, and it is their wait we predict); new arrivals keep the
configured patience. A ticket not called within the horizon counts the horizon
(its wait is at least that): ``called_share`` says how often that happened.
Clerks stay at their windows until the end of their shift span (from the roster,
or their home window's opening hours), paused windows resume after
``PAUSE_MINUTES``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from queue_server.commands import MoveClerk, decide
from queue_server.config import Hall
from queue_server.errors import CommandRejected
from queue_server.model import ACTIVE_AT_WINDOW, HallState

from .kpis import confidence_interval
from .model import Citizen, DayResult, HallDay, HallPlan, gc_paused, minutes_of
from .roster import Roster, shifts_for

PAUSE_MINUTES = 10.0


class ClerkMove(Protocol):
    """Anything with ``clerk`` and ``to_window``, e.g. :class:`queue_server.commands.MoveClerk`."""

    @property
    def clerk(self) -> str: ...

    @property
    def to_window(self) -> int: ...


def snapshot(state: HallState) -> HallState:
    """What the twin reads of the live hall — its ``seq``, windows, and the tickets waiting
    or at a window — copied, so a forecast in another thread never sees the hall change
    under it. Cheap enough to take on the server's event loop."""
    tickets = {
        tid: copy.copy(t) for tid, t in state.tickets.items() if t.state == "waiting" or t.state in ACTIVE_AT_WINDOW
    }
    return HallState(
        state.hall,
        seq=state.seq,
        day=state.day,
        tickets=tickets,
        windows={n: copy.copy(w) for n, w in state.windows.items()},
    )


def _span_end(shifts: Sequence[Any], clerk: str | None, now: float, default: float) -> float:
    for s in shifts:
        if s.clerk != clerk:
            continue
        for a, b in s.spans():
            if minutes_of(a) <= now < minutes_of(b):
                return minutes_of(b)
    return default


def _run(
    hall: Hall,
    state: HallState,
    now: float,
    rep: int,
    seed: int,
    horizon: float,
    roster: Roster | None,
    moves: Sequence[ClerkMove] = (),
) -> tuple[DayResult, list[Citizen]]:
    """One future of the hall from ``state``; returns its records and the waiting tickets' citizens."""
    plan = HallPlan.of(hall)
    local = datetime.fromtimestamp(now, hall.tz)
    day = local.date()
    t_now = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
    end = t_now + horizon
    shifts = shifts_for(hall, day, roster)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(rep,)))
    sim = HallDay(plan, day, rng, shifts, start=t_now, end=end, track=False)
    with gc_paused():  # as HallDay.run does
        if hall.hours.is_working_day(day):
            sim.schedule_arrivals(day.weekday(), t_now, end)
        sim.schedule_shifts(shifts, future_only=True)
        busy = []
        close_default = plan.close_min if t_now < plan.close_min else end
        for number in sorted(state.windows):
            win = state.windows[number]
            if win.status == "closed" or number not in sim.windows:
                continue
            leave = _span_end(shifts, win.clerk, t_now, close_default)
            if win.status == "paused":
                sim.schedule_span(number, win.clerk, t_now + PAUSE_MINUTES, leave)
                continue
            sim.open_window(number, win.clerk, t_now)
            sim.schedule_close(number, win.clerk, leave)
            t = state.tickets.get(win.current) if win.current else None
            if t is not None and t.category in plan.cat_index:
                began = t.started_at + t.suspended_seconds if t.started_at is not None else now  # less 挂起
                busy.append((number, win.clerk, t, max(0.0, (now - began) / 60)))
        waiting = sorted(
            (t for t in state.tickets.values() if t.state == "waiting" and t.category in plan.cat_index),
            key=lambda t: (t.order_at, t.id),
        )
        seeded = sim.seed_waiting(waiting, busy)
        for mv in moves:
            if sim.move_clerk(mv.clerk, mv.to_window, t_now):
                sim.schedule_close(mv.to_window, mv.clerk, _span_end(shifts, mv.clerk, t_now, close_default))
        sim.env.run(until=end)
        return sim.finish(day.weekday()), seeded[: len(waiting)]


def forecast(
    hall: Hall,
    state: HallState,
    now: float,
    reps: int = 200,
    horizon_minutes: float = 120,
    seed: int = 0,
    roster: Roster | None = None,
) -> dict[str, dict[str, float]]:
    """Predicted wait (minutes from ``now`` to the call) of every waiting ticket of ``state``."""
    waits: dict[str, list[float]] = {}
    for rep in range(reps):
        res, citizens = _run(hall, state, now, rep, seed, horizon_minutes, roster)
        start = res.end_min - horizon_minutes
        for c in citizens:
            called = c.first_called if c.first_called == c.first_called else res.end_min
            waits.setdefault(c.ticket.id, []).append(called - start)
    out = {}
    for tid, w in waits.items():
        arr = np.asarray(w)
        p10, p50, p90 = np.percentile(arr, [10, 50, 90])
        out[tid] = {
            "p10": float(p10),
            "p50": float(p50),
            "p90": float(p90),
            "mean": float(arr.mean()),
            "called_share": float((arr < horizon_minutes - 1e-9).mean()),
        }
    return out


def _all_waits(res: DayResult, horizon_end: float) -> np.ndarray:
    s = res.steps
    called = s["called"]
    return np.where(np.isnan(called), horizon_end, called) - s["queued"]


def evaluate_moves(
    hall: Hall,
    state: HallState,
    now: float,
    moves: Sequence[ClerkMove],
    reps: int = 100,
    seed: int = 0,
    horizon_minutes: float = 120,
    roster: Roster | None = None,
) -> list[dict[str, Any]]:
    """For each move: mean and p90 wait over the horizon without and with it, and the
    difference of the means with its 95% interval (paired by replication). A move the
    live hall would refuse (:func:`queue_server.commands.decide`) comes back with ``error``."""
    base_mean, base_p90 = [], []
    for rep in range(reps):
        res, _ = _run(hall, state, now, rep, seed, horizon_minutes, roster)
        w = _all_waits(res, res.end_min)
        base_mean.append(float(w.mean()) if len(w) else math.nan)
        base_p90.append(float(np.percentile(w, 90)) if len(w) else math.nan)
    out: list[dict[str, Any]] = []
    for mv in moves:
        try:  # the same checks the live hall makes (target closed, clerk skilled for it …)
            decide(hall, state, MoveClerk(clerk=mv.clerk, to_window=mv.to_window), now)
        except CommandRejected as exc:
            out.append({"move": {"clerk": mv.clerk, "to_window": mv.to_window}, "error": exc.as_dict()})
            continue
        m_mean, m_p90 = [], []
        for rep in range(reps):
            res, _ = _run(hall, state, now, rep, seed, horizon_minutes, roster, [mv])
            w = _all_waits(res, res.end_min)
            m_mean.append(float(w.mean()) if len(w) else math.nan)
            m_p90.append(float(np.percentile(w, 90)) if len(w) else math.nan)
        diff = confidence_interval(np.asarray(m_mean) - np.asarray(base_mean))
        out.append(
            {
                "move": {"clerk": mv.clerk, "to_window": mv.to_window},
                "without": {"mean": float(np.nanmean(base_mean)), "p90": float(np.nanmean(base_p90))},
                "with": {"mean": float(np.nanmean(m_mean)), "p90": float(np.nanmean(m_p90))},
                "difference_mean": diff.as_dict(),
            }
        )
    return out


def mean_wait(
    hall: Hall,
    state: HallState,
    now: float,
    moves: Sequence[ClerkMove] = (),
    reps: int = 20,
    seed: int = 0,
    horizon_minutes: float = 60,
    roster: Roster | None = None,
) -> float:
    """Mean wait (minutes) of everyone waiting or arriving over the horizon when ``moves``
    are made now — the rebalancer's look-ahead. The same ``seed`` gives the same futures
    whatever the moves (common random numbers), so two calls compare the moves alone."""
    means = []
    for rep in range(reps):
        res, _ = _run(hall, state, now, rep, seed, horizon_minutes, roster, moves)
        w = _all_waits(res, res.end_min)
        if len(w):
            means.append(float(w.mean()))
    return float(np.mean(means)) if means else 0.0


class WaitForecaster:
    """The live twin behind the server's estimated wait, when a hall enables it.

    Forecasting every waiting ticket takes a fraction of a second, so the server asks
    this object, which forecasts once per change of the hall (its event ``seq``) and
    at most every ``refresh_seconds``, and answers from that in between. The server
    calls :meth:`refresh` on a snapshot in a background thread and reads
    :attr:`latest` (seq, time, waits) on its event loop; the forecast is replaced in
    one assignment, so a reader sees either the old one or the new one.
    """

    def __init__(
        self,
        hall: Hall,
        reps: int = 200,
        horizon_minutes: float = 120,
        refresh_seconds: float = 30,
        roster: Roster | None = None,
    ) -> None:
        self.hall = hall
        self.reps = reps
        self.horizon = horizon_minutes
        self.refresh_seconds = refresh_seconds
        self.roster = roster
        # (hall seq, time, waits per ticket) of the latest forecast
        self.latest: tuple[int, float, dict[str, dict[str, float]]] = (-1, -math.inf, {})
        self.runs = 0  # forecasts made (for monitoring)

    def due(self, state: HallState, now: float) -> bool:
        """Whether ``state`` calls for a new forecast: the hall changed and the last one is
        ``refresh_seconds`` old (or the seq went back: another day or a restored hall)."""
        seq, at, _ = self.latest
        return (state.seq != seq and now - at >= self.refresh_seconds) or state.seq < seq

    def refresh(self, state: HallState, now: float) -> None:
        """Forecast ``state`` now (seeded by its ``seq``: the same hall gives the same answer)."""
        waits = forecast(self.hall, state, now, self.reps, self.horizon, seed=state.seq, roster=self.roster)
        self.latest = (state.seq, now, waits)
        self.runs += 1

    def wait(self, state: HallState, now: float, ticket_id: str) -> dict[str, float] | None:
        """p50/p90/mean minutes until ``ticket_id`` is called, or None if it is not waiting."""
        if self.due(state, now):
            self.refresh(state, now)
        return self.latest[2].get(ticket_id)
