"""The live twin: the hall as it is now, simulated forward.

:func:`forecast` starts the model from a snapshot of the live hall — the tickets
waiting, the tickets at windows and how long they have been served, which clerk
sits at which window — and runs it ``reps`` times over the next
``horizon_minutes`` with new citizens arriving by the day's profile. For every
waiting ticket it returns the predicted wait until its call: median, 90th
percentile and mean, in minutes. :func:`evaluate_moves` asks what moving a clerk
(调岗) would do to the waits, running each move on the very same random futures
as the hall without it (common random numbers), so the difference is the move's
and not chance's. :func:`score_actions` does the same for the rebalancer's
candidates — moves and work profiles (a window calling other categories) — per
category, so a recommendation can state its gain, its cost and their intervals;
:func:`waits_in_window` measures a realised day the same way.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from queue_server.commands import MoveClerk, decide
from queue_server.config import Hall
from queue_server.errors import CommandRejected
from queue_server.model import ACTIVE_AT_WINDOW, HallState

from .kpis import confidence_interval
from .model import Citizen, DayResult, HallDay, HallPlan, gc_paused, minutes_of
from .roster import Roster, shifts_for

PAUSE_MINUTES = 10.0


@runtime_checkable
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


def span_end(shifts: Sequence[Any], clerk: str | None, now: float, default: float) -> float:
    """When ``clerk``'s span under way at ``now`` (minutes since midnight) ends — their shift, or
    its part before or after the break — or ``default`` if they have none under way."""
    for s in shifts:
        if s.clerk != clerk:
            continue
        for a, b in s.spans():
            if minutes_of(a) <= now < minutes_of(b):
                return minutes_of(b)
    return default


class WindowProfile(Protocol):
    """Anything with ``window`` and ``categories``, e.g. :class:`queue_server.commands.SetWindowProfile`."""

    @property
    def window(self) -> int: ...

    @property
    def categories(self) -> Sequence[str]: ...


Action = ClerkMove | WindowProfile


def _future(
    hall: Hall,
    state: HallState,
    now: float,
    rep: int,
    seed: int,
    horizon: float,
    roster: Roster | None,
    actions: Sequence[Action] = (),
    walk: float = 0.0,
    scale: np.ndarray | None = None,
) -> tuple[DayResult, list[Citizen], list[Citizen]]:
    """One future of the hall from ``state`` with ``actions`` taken now (a moved clerk calls
    ``walk`` minutes after leaving, arrivals follow the profile times ``scale`` per category);
    returns its records and the citizens of the tickets waiting and of those at a window."""
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
            sim.schedule_arrivals(day.weekday(), t_now, end, scale)
        sim.schedule_shifts(shifts, future_only=True)
        busy = []
        close_default = plan.close_min if t_now < plan.close_min else end
        for number in sorted(state.windows):
            win = state.windows[number]
            if win.status == "closed" or number not in sim.windows:
                continue
            leave = span_end(shifts, win.clerk, t_now, close_default)
            if win.status == "paused":
                sim.schedule_span(number, win.clerk, t_now + PAUSE_MINUTES, leave)
                continue
            sim.open_window(number, win.clerk, t_now, win.categories)
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
        for action in actions:
            if isinstance(action, ClerkMove):
                if sim.move_clerk(action.clerk, action.to_window, t_now, walk):
                    leave = span_end(shifts, action.clerk, t_now, close_default)
                    sim.schedule_close(action.to_window, action.clerk, leave)
            else:
                sim.set_profile(action.window, action.categories, t_now)
        sim.env.run(until=end)
        return sim.finish(day.weekday()), seeded[: len(waiting)], seeded[len(waiting) :]


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
        res, citizens, _ = _future(hall, state, now, rep, seed, horizon_minutes, roster)
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
        res, _, _ = _future(hall, state, now, rep, seed, horizon_minutes, roster)
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
            res, _, _ = _future(hall, state, now, rep, seed, horizon_minutes, roster, [mv])
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
        res, _, _ = _future(hall, state, now, rep, seed, horizon_minutes, roster, moves)
        w = _all_waits(res, res.end_min)
        if len(w):
            means.append(float(w.mean()))
    return float(np.mean(means)) if means else 0.0


@dataclass(frozen=True)
class FutureWaits:
    """The waits of one candidate over its futures: per future and category, the sum of the
    waits (minutes) and the number of citizens waiting now or joining a queue within the
    horizon, each counted from joining the queue to the call, to leaving, or to the
    horizon's end if neither came."""

    sums: dict[str, np.ndarray]  # category -> (reps,)
    counts: dict[str, np.ndarray]  # category -> (reps,)

    def mean(self, categories: Iterable[str] | None = None) -> np.ndarray:
        """Mean wait per future over ``categories`` (default: the whole hall); nan where a
        future had nobody of them."""
        cats = list(self.sums) if categories is None else list(categories)
        total = sum((self.sums[g] for g in cats), np.zeros_like(next(iter(self.sums.values()))))
        n = sum((self.counts[g] for g in cats), np.zeros_like(total))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def people(self, categories: Iterable[str]) -> float:
        """Citizens of ``categories`` counted, on average over the futures."""
        return float(sum(self.counts[g].mean() for g in categories))

    def then(self, more: FutureWaits) -> FutureWaits:
        """These futures followed by ``more`` (the same candidate on further futures)."""
        return FutureWaits(
            {g: np.concatenate([v, more.sums[g]]) for g, v in self.sums.items()},
            {g: np.concatenate([v, more.counts[g]]) for g, v in self.counts.items()},
        )


def waits_in_window(
    res: DayResult, categories: Sequence[str], start: float, end: float
) -> dict[str, tuple[float, int]]:
    """Per category (and ``"*"`` for the hall): (sum of waits in minutes, citizens) of the visit
    steps waiting at ``start`` or joining a queue before ``end`` (minutes since midnight),
    each counted from joining the queue to its call, to leaving, or to ``end`` — the measure
    :func:`score_actions` predicts, so a realised day is scored exactly as its forecast was."""
    s = res.steps
    done = np.where(np.isnan(s["called"]), s["left"], s["called"])
    mask = (s["queued"] < end) & (done >= start)
    return _sum_by_category(s["category"][mask], np.minimum(done[mask], end) - s["queued"][mask], categories)


def _sum_by_category(cats: np.ndarray, waits: np.ndarray, names: Sequence[str]) -> dict[str, tuple[float, int]]:
    sums = np.bincount(cats, weights=waits, minlength=len(names))
    counts = np.bincount(cats, minlength=len(names))
    out = {g: (float(sums[i]), int(counts[i])) for i, g in enumerate(names)}
    out["*"] = (float(waits.sum()), len(waits))
    return out


def _future_waits(
    hall: Hall, res: DayResult, waiting: list[Citizen], busy: list[Citizen], names: Sequence[str]
) -> dict[str, tuple[float, int]]:
    """:func:`waits_in_window` of one future: the tickets waiting at its start count from their
    issue; the citizens then at a window are not waiting."""
    s = res.steps
    citizen = s["citizen"]
    size = int(citizen.max(initial=-1)) + 1
    base = datetime.combine(res.day, time(0), hall.tz).timestamp()
    issued = np.full(size, np.nan)
    for c in waiting:
        if c.index < size:
            issued[c.index] = (c.ticket.issued_at - base) / 60
    at_window = np.zeros(size, dtype=bool)
    at_window[[c.index for c in busy if c.index < size]] = True
    first = s["step"] == 0
    queued = s["queued"].copy()
    was = first & ~np.isnan(issued[citizen])
    queued[was] = issued[citizen[was]]
    done = np.where(np.isnan(s["called"]), s["left"], s["called"])
    keep = ~(first & at_window[citizen])
    return _sum_by_category(s["category"][keep], np.minimum(done[keep], res.end_min) - queued[keep], names)


def score_actions(
    hall: Hall,
    state: HallState,
    now: float,
    candidates: Sequence[Sequence[Action]],
    reps: int = 30,
    seed: int = 0,
    horizon_minutes: float = 60,
    roster: Roster | None = None,
    walk_minutes: float = 0.0,
    arrival_scale: dict[str, float] | None = None,
    first_rep: int = 0,
) -> list[FutureWaits]:
    """Score each candidate (moves and work profiles taken now) on the same ``reps`` futures
    (numbered from ``first_rep``: a later call can add futures to an earlier one's):
    future ``r`` has the same arrivals and service times whatever the candidate (common random
    numbers), so two candidates differ by their actions, not by chance. A moved clerk calls
    ``walk_minutes`` after leaving their window; ``arrival_scale`` multiplies a category's
    expected arrivals (what the hall has been seeing against its profile)."""
    names = HallPlan.of(hall).categories
    scale = np.asarray([(arrival_scale or {}).get(g, 1.0) for g in names]) if arrival_scale else None
    out = []
    for actions in candidates:
        sums = {g: np.zeros(reps) for g in names}
        counts = {g: np.zeros(reps) for g in names}
        for k in range(reps):
            res, waiting, busy = _future(
                hall, state, now, first_rep + k, seed, horizon_minutes, roster, actions, walk_minutes, scale
            )
            for g, (total, n) in _future_waits(hall, res, waiting, busy, names).items():
                if g != "*":
                    sums[g][k], counts[g][k] = total, n
        out.append(FutureWaits(sums, counts))
    return out


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
