"""The hall as a SimPy model: one working day of arrivals, calls and services.

Citizens arrive per category as a non-homogeneous Poisson process (the hall's
time-of-day profile times the weekday factor), some with an appointment for the
slot they arrive in, some in a priority group. Each takes a ticket (the core's
:class:`~queue_server.model.Ticket`) and waits; a window that becomes free asks
the core's compiled calling policy (:meth:`~queue_server.policy.CallRules.choose`)
which ticket to call — the path the live server's :func:`~queue_server.policy.choose`
takes too, so the model calls tickets in the order the real hall would. A called
citizen may not come (过号); some come back within the recall time and are
recalled at that window. Service takes the category's nominal time divided by
the clerk's proficiency; then the citizen may go on to the next step of the
journey (e.g. 受理 → 出件), keeping their place in the queue
as a transfer does. A citizen who waits longer than their patience leaves
(abandonment); one who finds the hall full does not come in (balking). Clerks
open and close windows by shift and break, from a roster or from their home
windows.

Speed matters (the live twin runs hundreds of replications in a second), so the
model has no process per clerk or per citizen: SimPy's event queue drives
callbacks; an idle window simply waits to be offered a ticket; patience is kept
as deadlines checked before every change, which is exactly equivalent to a timer
per citizen. Within one category and priority group the policies serve in queue
order, so only the head of each such queue (plus transferred and appointment
tickets) is offered to the policy — ``tests/simulation`` checks on random
queues that this gives the same choice as offering every waiting ticket.

Times inside the model are minutes since local midnight of the simulated day;
tickets carry epoch seconds like the live hall's.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from heapq import heappop, heappush

import numpy as np
import simpy
from simpy.events import Timeout

from queue_server.commands import serving_categories
from queue_server.config import Hall, PriorityGroup
from queue_server.model import HallState, Ticket, WindowState
from queue_server.policy import CallRules, call_rules

from .distributions import Sampler, sampler
from .roster import Shift

# What became of one step of a citizen's visit.
SERVED, ABANDONED, BALKED, NO_SHOW, UNSERVED = 0, 1, 2, 3, 4
OUTCOME_NAMES = ("served", "abandoned", "balked", "no_show", "unserved")
RULES = ("transfer", "appointment", "priority", "aging", "order")  # Choice.rule values of the core
_RULE_NO = {rule: i for i, rule in enumerate(RULES)}
MAX_STEPS = 6  # a journey longer than this is cut (guards against cycles in the configuration)
INF = math.inf


def _idle_since(w: _Window) -> float:
    return w.idle_since


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a day runs.

    A day makes tens of thousands of small objects (tickets, citizens, events) that live
    until the day ends and are then freed by reference counting: the model makes no
    reference cycles (SimPy's environment leaves a handful, collected later). Left on,
    the collector scans them again and again and, once they have piled up in its oldest
    generation, the whole heap of the process: a quarter of the run time of a day. The
    collector's state is restored afterwards (it stays off if it was off)."""
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def minutes_of(t: time) -> float:
    return t.hour * 60 + t.minute + t.second / 60


@dataclass
class HallPlan:
    """What the model needs from the configuration, worked out once per hall."""

    hall: Hall
    categories: list[str]
    cat_index: dict[str, int]
    skills: dict[str, dict[str, float]]
    prefixes: list[str]
    samplers: list[Sampler]
    patience: list[float]
    no_show: list[float]
    journey: list[list[tuple[int, float]]]
    window_cats: dict[int, tuple[str, ...]]
    groups: dict[str, PriorityGroup]
    group_ids: list[str]
    patience_arr: np.ndarray
    no_show_arr: np.ndarray
    group_cum: np.ndarray  # cumulative shares: appointment first, then the groups
    open_min: float
    close_min: float
    step_min: float
    interval_starts: np.ndarray
    interval_ends: np.ndarray
    rules: CallRules  # the core's calling policy, compiled once
    singles: list[tuple[int]]  # the one-step journey of each category, shared by its citizens
    _serving: dict[tuple[int, str | None, tuple[str, ...]], frozenset[str]] = field(default_factory=dict)
    _rates: dict[int, np.ndarray] = field(default_factory=dict)
    clerk_ids: list[str] = field(default_factory=list)
    _clerk_numbers: dict[str, int] = field(default_factory=dict)

    def rates(self, weekday: int) -> np.ndarray:
        """Expected arrivals per category (rows) and interval of the demand profile (columns)."""
        r = self._rates.get(weekday)
        if r is None:
            n = len(self.interval_starts)
            rows = []
            for c in self.categories:
                per = self.hall.arrival_rates(c, weekday)
                rows.append(per if len(per) == n else [sum(per) / n] * n)  # no profile: flat over the day
            r = self._rates[weekday] = np.asarray(rows)
        return r

    @classmethod
    def of(cls, hall: Hall) -> HallPlan:
        cached = _PLANS.get(id(hall))
        if cached is not None and cached.hall is hall:
            return cached
        step = float(hall.demand.interval_minutes if hall.demand else 30)
        close = minutes_of(hall.hours.close)
        starts = minutes_of(hall.hours.open) + step * np.arange(hall.intervals_per_day())
        cats = hall.category_ids()
        index = {c: i for i, c in enumerate(cats)}
        sim = hall.simulation
        group_ids = list(sim.priority_share)
        shares = [sim.appointment_share] + [sim.priority_share[g] for g in group_ids]
        plan = cls(
            hall=hall,
            categories=cats,
            cat_index=index,
            skills={c.id: dict(c.skills) for c in hall.clerks},
            prefixes=[c.prefix for c in hall.categories],
            samplers=[sampler(c.service_time) for c in hall.categories],
            patience=[c.patience_minutes or INF for c in hall.categories],
            no_show=[c.no_show_rate for c in hall.categories],
            journey=[[(index[s.category], s.probability) for s in c.journey] for c in hall.categories],
            window_cats={w.number: tuple(hall.window_categories(w.number)) for w in hall.windows},
            groups={g.id: g for g in hall.priority_groups},
            group_ids=group_ids,
            patience_arr=np.asarray([c.patience_minutes or INF for c in hall.categories]),
            no_show_arr=np.asarray([c.no_show_rate for c in hall.categories]),
            group_cum=np.cumsum(shares),
            open_min=minutes_of(hall.hours.open),
            close_min=minutes_of(hall.hours.close),
            step_min=step,
            interval_starts=starts,
            interval_ends=np.minimum(starts + step, close),
            rules=call_rules(hall.policy, {g.id: g for g in hall.priority_groups}),
            singles=[(i,) for i in range(len(cats))],
        )
        if len(_PLANS) > 64:
            _PLANS.clear()
        _PLANS[id(hall)] = plan
        return plan

    def serving(self, window: int, clerk: str | None, categories: Sequence[str] | None = None) -> frozenset[str]:
        """The window's categories (or the profile ``categories``) its clerk may serve (the
        core's rule, cached)."""
        cats_of = self.window_cats[window] if categories is None else tuple(sorted(categories))
        key = (window, clerk, cats_of)
        cats = self._serving.get(key)
        if cats is None:
            win = WindowState(window, cats_of, "open", clerk)
            cats = self._serving[key] = serving_categories(self.hall, win)
        return cats

    def clerk_number(self, clerk: str | None) -> int:
        """Index of ``clerk`` in :attr:`clerk_ids` (added on first sight), -1 for none."""
        if clerk is None:
            return -1
        n = self._clerk_numbers.get(clerk)
        if n is None:
            n = self._clerk_numbers[clerk] = len(self.clerk_ids)
            self.clerk_ids.append(clerk)
        return n

    def proficiency(self, clerk: str | None, category: str) -> float:
        skills = self.skills.get(clerk) if clerk is not None else None
        return skills.get(category, 1.0) if skills else 1.0


_PLANS: dict[int, HallPlan] = {}


class Citizen:
    """One visitor and everything random about their visit, drawn when they arrive.

    Drawing it all up front keeps the random numbers of a citizen the same whatever
    the hall does with them (common random numbers when comparing layouts or moves).
    """

    __slots__ = (
        "arrived",
        "called",
        "cat",
        "first_called",
        "group",
        "index",
        "j",
        "queued",
        "reason",
        "recalled",
        "rule",
        "special",
        "step",
        "steps",
        "ticket",
    )

    def __init__(self, index: int, ticket: Ticket, arrived: float, group: int, steps: Sequence[int], j: int) -> None:
        self.index = index
        self.ticket = ticket
        self.arrived = arrived
        self.queued = arrived
        self.called = math.nan
        self.first_called = math.nan  # first call of the whole visit (the live twin's forecast)
        # Why the first call of this step chose this ticket: Choice.rule (index into RULES, -1
        # not called yet) and Choice.reason.
        self.rule = -1
        self.reason = ""
        self.group = group  # -1 none, -2 appointment, else index into plan.group_ids
        self.step = 0
        self.steps = steps  # category index of each step of the journey
        self.cat = steps[0]  # category index of this step
        self.j = j  # offset of this citizen's per-step draws in HallDay.f_* lists
        self.recalled = False
        self.special = False


class _Window:
    __slots__ = (
        "busy",
        "busy_mark",
        "busy_time",
        "cat_ids",
        "cats",
        "clerk",
        "clerk_no",
        "closing",
        "current",
        "heaps",
        "idle",
        "idle_since",
        "is_open",
        "number",
        "open_since",
        "open_time",
        "profile",
        "seated_at",
        "skills",
    )

    def __init__(self, number: int) -> None:
        self.number = number
        self.cats: frozenset[str] = frozenset()
        self.heaps: list[list[tuple[float, int, Citizen]]] = []
        self.clerk: str | None = None
        self.is_open = False
        self.busy = False
        self.closing = False
        self.current: Citizen | None = None
        self.idle = False
        self.idle_since = 0.0
        self.cat_ids: list[int] = []  # indices of ``cats``
        self.open_since = 0.0
        self.open_time = 0.0
        self.busy_time = 0.0
        self.busy_mark = 0.0  # busy_time when the current clerk sat down
        self.clerk_no = -1
        self.skills: dict[str, float] = {}
        self.profile: tuple[str, ...] | None = None  # a work profile's categories (None: the window's own)
        self.seated_at = 0.0  # when the clerk sat down or the profile last changed


@dataclass
class DayResult:
    """Records of one simulated day (times in minutes since local midnight)."""

    day: date
    weekday: int
    open_min: float
    close_min: float
    end_min: float
    # One row per step of a visit.
    steps: dict[str, np.ndarray]
    # One row per citizen.
    citizens: dict[str, np.ndarray]
    window_open: dict[int, float]
    window_busy: dict[int, float]
    clerk_duty: dict[str, float]
    clerk_busy: dict[str, float]
    # Changes of (people waiting, people in the hall) over the day.
    log_t: np.ndarray
    log_wait: np.ndarray
    log_hall: np.ndarray
    wait_area: float  # integral of the number waiting over the day (person-minutes)
    tickets: list[Ticket]  # by citizen index
    clerk_ids: list[str]  # names of the ``clerk`` column of ``steps``
    step_reasons: list[str]  # the reason choose() gave for each step's first call ("" if none)


# One row per step of a visit: which citizen, which step of the journey, category index, group
# (-1 none, -2 appointment, else index into HallPlan.group_ids), arrival at the hall, joining this
# queue, first call (nan: never), start and end of service (nan: not served), leaving this step,
# window, clerk (index into DayResult.clerk_ids, -1 none), rule of the first call (index into
# RULES, -1 never called), outcome. DayResult.step_reasons holds the call's reason per row.
STEP_FIELDS = (
    "citizen",
    "step",
    "category",
    "group",
    "arrived",
    "queued",
    "called",
    "started",
    "finished",
    "left",
    "window",
    "clerk",
    "rule",
    "outcome",
)
_FLOAT_FIELDS = frozenset({"arrived", "queued", "called", "started", "finished", "left"})


class HallDay:
    """One day of the hall, ready to :meth:`run`.

    ``shifts`` say who sits where; ``rng`` drives every random draw. For the live twin,
    :meth:`start_from` loads a snapshot before running and ``start``/``end`` bound
    the simulated span.
    """

    def __init__(
        self,
        plan: HallPlan,
        day: date,
        rng: np.random.Generator,
        shifts: list[Shift],
        *,
        start: float | None = None,
        end: float | None = None,
        track: bool = True,
        check_calls: bool = False,
    ) -> None:
        hall = plan.hall
        self.check_calls = check_calls
        self.plan = plan
        self.hall = hall
        self.day = day
        self.rng = rng
        self.track = track
        self.start = plan.open_min if start is None else start
        self.end = end  # None: run until every shift and service is over
        self.base = datetime.combine(day, time(0), hall.tz).timestamp()
        self.day_str = day.isoformat()
        self.id_prefix = f"{day:%Y%m%d}-"
        self.width = hall.ticket_number_width
        self.env = simpy.Environment(initial_time=self.start)
        self.rules = plan.rules
        self.call_timeout = hall.simulation.call_timeout_minutes
        self.capacity = hall.simulation.hall_capacity
        n = len(plan.categories)
        # One queue per category and priority group (index 0: no group), ordered by place in the queue.
        n_groups = len(plan.group_ids)
        self.queues: list[list[list[tuple[float, int, Citizen]]]] = [
            [[] for _ in range(n_groups + 1)] for _ in range(n)
        ]
        self.specials: list[Citizen] = []
        self.deadlines: list[tuple[float, int, Citizen, int]] = []
        self.windows: dict[int, _Window] = {num: _Window(num) for num in plan.window_cats}
        # Idle windows by category they may serve (a window waits idle until offered a ticket).
        self.idle_by_cat: list[list[_Window]] = [[] for _ in range(n)]
        self.n_idle = 0
        self.seq = 0
        self.n_citizens = 0
        self.counters = [0] * n
        self.n_wait = 0
        self.n_hall = 0
        self.last_change = self.start
        self.wait_area = 0.0
        self.log: list[tuple[float, int, int]] = []
        self.step_rows: list[tuple[float, ...]] = []
        self.step_reasons: list[str] = []
        self.citizen_rows: list[tuple[float, ...]] = []
        self.tickets: list[Ticket] = []
        self.clerk_duty: dict[str, float] = {}
        self.handover: dict[int, tuple[int, str, float]] = {}
        self.arriving: set[int] = set()  # windows a moved clerk is walking to
        self.clerk_busy: dict[str, float] = {}
        self._arrivals: list[Citizen] = []
        # Per-step draws of all citizens (see Citizen.j): nominal service minutes, patience
        # minutes (inf: unlimited), no-show on call, minutes until a no-show comes back (inf: never).
        self.f_service: list[float] = []
        self.f_patience: list[float] = []
        self.f_noshow: list[bool] = []
        self.f_return: list[float] = []
        self._next_arrival = 0
        self._wake_at = INF  # time of the pending wake-up for an arrival (inf: none)
        self._next_at = INF  # arrival time of the next citizen not yet in the hall (inf: none)
        self._shifts = shifts

    # ------------------------------------------------------------ set-up

    def _draw_steps(self, first: np.ndarray) -> tuple[list[Sequence[int]], list[int]]:
        """Journeys and per-step draws (service, patience, no-show, return) for citizens whose first
        category is ``first``; the draws go to the flat ``f_*`` lists, each citizen gets its offset."""
        plan, rng = self.plan, self.rng
        n = len(first)
        singles = plan.singles
        paths: list[Sequence[int]] = [singles[c] for c in first.tolist()]  # one step: shared, no object each
        journey = plan.journey
        longer = {i: [paths[i][0]] for i in range(n) if journey[paths[i][0]]}  # may go on: grown here
        active = list(longer)
        depth = 0
        while active and depth < MAX_STEPS - 1:
            u = rng.random(len(active)).tolist()
            nxt = []
            for i, ui in zip(active, u, strict=True):
                acc = 0.0
                path = longer[i]
                for cat, p in journey[path[-1]]:
                    acc += p
                    if ui < acc:
                        path.append(cat)
                        if journey[cat]:
                            nxt.append(i)
                        break
            active = nxt
            depth += 1
        base = len(self.f_service)
        if longer:
            for i, path in longer.items():
                paths[i] = path
            lengths = [len(p) for p in paths]
            cats = np.fromiter((c for p in paths for c in p), dtype=np.int64, count=sum(lengths))
            offsets = (base + np.concatenate(([0], np.cumsum(lengths)[:-1]))).tolist() if n else []
        else:  # one step each
            cats = np.asarray(first, dtype=np.int64)
            offsets = list(range(base, base + n))
        m = len(cats)
        service = np.empty(m)
        if len(plan.samplers) == 1:
            if m:
                service[:] = plan.samplers[0](rng, m)
        else:
            for c in np.flatnonzero(np.bincount(cats, minlength=len(plan.samplers))).tolist():  # in order
                mask = cats == c
                service[mask] = plan.samplers[c](rng, int(mask.sum()))
        pat_mean = plan.patience_arr[cats]
        patience = rng.exponential(1.0, m) * pat_mean  # inf stays inf: no patience limit
        noshow = rng.random(m) < plan.no_show_arr[cats]
        returns = rng.random(m) < self.hall.simulation.no_show_return_probability
        delay = np.where(returns, rng.random(m) * self.hall.no_show_recall_minutes, INF)
        self.f_service.extend(service.tolist())
        self.f_patience.extend(patience.tolist())
        self.f_noshow.extend(noshow.tolist())
        self.f_return.extend(delay.tolist())
        return paths, offsets

    def schedule_arrivals(
        self, weekday: int, start: float | None = None, end: float | None = None, scale: np.ndarray | None = None
    ) -> None:
        """Draw the day's arrivals (from ``start`` to ``end``, default the opening hours);
        ``scale`` multiplies each category's profile (a surge the hall is seeing)."""
        plan, rng = self.plan, self.rng
        lo = plan.open_min if start is None else start
        hi = plan.close_min if end is None else min(end, plan.close_min)
        rates = plan.rates(weekday)  # expected arrivals per (category, interval)
        if scale is not None:
            rates = rates * scale[:, None]
        starts, ends = plan.interval_starts, plan.interval_ends
        a, b = np.maximum(starts, lo), np.minimum(ends, hi)
        span = np.maximum(b - a, 0.0)
        # Rates are per full interval; the last interval may be cut by closing time.
        counts = rng.poisson(rates * (span / plan.step_min)).ravel()
        total = int(counts.sum())
        if total == 0:
            return
        n_int = len(starts)
        left = np.repeat(np.tile(a, len(plan.categories)), counts)
        width = np.repeat(np.tile(span, len(plan.categories)), counts)
        t_all = left + rng.random(total) * width
        c_all = np.repeat(np.arange(len(plan.categories)).repeat(n_int), counts)
        order = np.argsort(t_all, kind="stable")
        t_all, c_all = t_all[order], c_all[order]
        u = rng.random(len(t_all))
        kinds = np.searchsorted(plan.group_cum, u, side="right")  # 0 appointment, 1.. groups, len: none
        paths, offsets = self._draw_steps(c_all)
        n_groups = len(plan.group_ids)
        # Tickets are made here in one loop (the hot path of drawing a day): numbers per
        # category and day as the core numbers them (prefix + zero-padded sequence).
        counters, prefixes, categories, group_ids = self.counters, plan.prefixes, plan.categories, plan.group_ids
        pad, id_prefix, base, day_str = self.width, self.id_prefix, self.base, self.day_str
        step, open_min = plan.step_min, plan.open_min
        arrivals = self._arrivals
        index = self.n_citizens
        for at, ci, kind, path, j in zip(t_all.tolist(), c_all.tolist(), kinds.tolist(), paths, offsets, strict=True):
            counters[ci] += 1
            number = prefixes[ci] + str(counters[ci]).zfill(pad)
            epoch = base + at * 60
            if kind > n_groups:  # the usual citizen: no group, no appointment
                t = Ticket(id_prefix + number, number, categories[ci], "kiosk", day_str, epoch, epoch)
                c = Citizen(index, t, at, -1, path, j)
            elif kind > 0:
                group = group_ids[kind - 1]
                t = Ticket(id_prefix + number, number, categories[ci], "kiosk", day_str, epoch, epoch, group)
                c = Citizen(index, t, at, kind - 1, path, j)
            else:  # an appointment for the slot they arrive in
                s0 = open_min + ((at - open_min) // step) * step
                t = Ticket(id_prefix + number, number, categories[ci], "appointment", day_str, epoch, epoch)
                t.appointment_start, t.appointment_end = base + s0 * 60, base + (s0 + step) * 60
                c = Citizen(index, t, at, -2, path, j)
                c.special = True
            index += 1
            arrivals.append(c)
        self.n_citizens = index
        self._next_arrival = 0
        self._next_at = self._arrivals[0].arrived
        self._schedule_wake()

    def schedule_shifts(self, shifts: list[Shift], future_only: bool = False) -> None:
        """Open and close windows by the clerks' shifts and breaks (spans already over are skipped;
        with ``future_only`` also those under way, whose windows the live snapshot sets)."""
        now = self.env.now
        for s in shifts:
            if s.window not in self.windows:
                continue
            for a, b in s.spans():
                t0, t1 = minutes_of(a), minutes_of(b)
                if t1 <= now or (future_only and t0 <= now):
                    continue
                self.schedule_span(s.window, s.clerk, t0, t1)

    def schedule_span(self, window: int, clerk: str | None, t0: float, t1: float) -> None:
        now = self.env.now
        self.env.timeout(max(t0, now) - now, value=(window, clerk)).callbacks.append(self._on_open)
        self.schedule_close(window, clerk, t1)

    def schedule_close(self, window: int, clerk: str | None, t1: float) -> None:
        """``clerk`` leaves ``window`` at ``t1`` (after the service under way)."""
        now = self.env.now
        self.env.timeout(max(t1, now) - now, value=(window, clerk)).callbacks.append(self._on_close)

    # ------------------------------------------------------------ live snapshot (twin)

    def seed_waiting(self, tickets: list[Ticket], busy: list[tuple[int, str | None, Ticket, float]]) -> list[Citizen]:
        """Load a snapshot at the current time: ``tickets`` waiting (they keep waiting: their
        remaining patience is unknown) and ``busy`` windows as (window, clerk, ticket, minutes
        already served). Windows must be opened by the caller first (:meth:`open_window`)."""
        now = self.env.now
        plan = self.plan
        everyone = tickets + [b[2] for b in busy]
        paths, offsets = self._draw_steps(np.asarray([plan.cat_index[t.category] for t in everyone], dtype=np.int64))
        out = []
        for t, path, j in zip(everyone, paths, offsets, strict=True):
            copy = Ticket(
                t.id,
                t.number,
                t.category,
                t.channel,
                t.day,
                t.issued_at,
                t.order_at,
                t.priority_group,
                t.appointment_start,
                t.appointment_end,
                target_window=t.target_window,
            )
            group = plan.group_ids.index(t.priority_group) if t.priority_group in plan.group_ids else -1
            c = Citizen(self.n_citizens, copy, now, -2 if t.appointment_start is not None else group, path, j)
            self.n_citizens += 1
            c.special = t.appointment_start is not None or t.target_window is not None
            self.f_patience[j] = INF
            self.tickets.append(copy)
            out.append(c)
        self._change(now, 0, len(out))
        for c in out[: len(tickets)]:
            self._enqueue(c, now)
        for (number, _clerk, _t, served), c in zip(busy, out[len(tickets) :], strict=True):
            w = self.windows[number]
            if w.idle:
                self._unset_idle(w)
            t = c.ticket
            t.state = "serving"
            c.called = now
            w.busy, w.current = True, c
            prof = plan.proficiency(w.clerk, t.category)
            need = self.f_service[c.j] / prof
            if need <= served:  # already longer than drawn: draw from what is left of the distribution
                more = plan.samplers[plan.cat_index[t.category]](self.rng, 32) / prof
                longer = more[more > served]
                need = float(longer[0]) if len(longer) else served * 1.1
            self.env.timeout(need - served, value=(w, c, now)).callbacks.append(self._on_finish)
        for c in out[: len(tickets)]:
            if c.ticket.state == "waiting":
                self._offer(c)
        return out

    def move_clerk(self, clerk: str, to_window: int, now: float, walk: float = 0.0) -> bool:
        """调岗: the clerk leaves their window (after the current service) for ``to_window``, where
        they start calling ``walk`` minutes later, or comes in from outside the hall's windows.
        False when ``to_window`` is taken."""
        target = self.windows.get(to_window)
        if target is None or (target.is_open and not target.closing) or to_window in self.arriving:
            return False
        source = next((w for w in self.windows.values() if w.is_open and w.clerk == clerk), None)
        if source is target:
            return False
        if source is None:  # a clerk not at a window now (a floater) comes in
            self._arrive(to_window, clerk, now, walk)
        elif source.busy:
            source.closing = True
            self.handover[source.number] = (to_window, clerk, walk)
        else:
            self._close(source, now)
            self._arrive(to_window, clerk, now, walk)
        return True

    def live_state(self, seq: int) -> HallState:
        """The hall now as the live server would hold it — the tickets waiting, at a window or
        issued in the last 30 minutes, and who sits at which window calling what — so the
        rebalancer can decide on a simulated day as on a real one (``seq`` seeds its look-ahead)."""
        now = self.env.now
        epoch = self.base + now * 60
        state = HallState(self.hall.id, seq=seq, day=self.day_str)
        for t in self.tickets:
            if t.state == "waiting" or t.issued_at >= epoch - 1800:
                state.tickets[t.id] = t
        for number, w in self.windows.items():
            if not w.is_open:
                continue
            cats = w.profile if w.profile is not None else self.plan.window_cats[number]
            win = WindowState(number, tuple(cats), "open", w.clerk, since=self.base + w.seated_at * 60)
            if w.profile is not None:
                win.profile_since = win.since
            if w.current is not None:
                win.current = w.current.ticket.id
                state.tickets[win.current] = w.current.ticket
            state.windows[number] = win
        return state

    # ------------------------------------------------------------ bookkeeping

    def _change(self, now: float, d_wait: int, d_hall: int) -> None:
        self.wait_area += self.n_wait * (now - self.last_change)
        self.last_change = now
        self.n_wait += d_wait
        self.n_hall += d_hall
        if self.track:
            self.log.append((now, self.n_wait, self.n_hall))

    def _purge(self, now: float) -> None:
        """Citizens whose patience ran out by ``now`` leave, at the moment it ran out."""
        dl = self.deadlines
        while dl and dl[0][0] <= now:
            at, _, c, step = heappop(dl)
            t = c.ticket
            if c.step != step or t.state != "waiting" or c.recalled:
                continue  # called meanwhile, on to the next step, or back for a recall (waits for it)
            t.state = "cancelled"
            if c.special:
                self.specials.remove(c)
            self._change(at, -1, -1)
            self._record_step(c, ABANDONED, at, None)
            self._leave(c, at, completed=False)

    def _record_step(self, c: Citizen, outcome: int, at: float, window: int | None, started: float = math.nan) -> None:
        if window is None and c.called == c.called:  # a no-show who came back too late: the calling window
            window = c.ticket.window
        self.step_reasons.append(c.reason)
        self.step_rows.append(
            (
                c.index,
                c.step,
                c.cat,
                c.group,
                c.arrived,
                c.queued,
                c.called,
                started,
                at if outcome == SERVED else math.nan,
                at,
                -1 if window is None else window,
                self.windows[window].clerk_no if window is not None else -1,
                c.rule,
                outcome,
            )
        )

    def _leave(self, c: Citizen, at: float, completed: bool) -> None:
        self.citizen_rows.append((c.index, c.arrived, at, completed, c.group))

    def _enqueue(self, c: Citizen, now: float, entering: int = 0) -> None:
        """``c`` joins its category's queue (``entering``: 1 when also just entering the hall)."""
        t = c.ticket
        t.state = "waiting"
        c.queued = now
        c.called = math.nan
        c.rule = -1
        c.reason = ""
        self.seq += 1
        if c.special:
            self.specials.append(c)
        else:
            heappush(self.queues[c.cat][c.group + 1], (t.order_at, self.seq, c))
        patience = self.f_patience[c.j + c.step]
        if patience < INF and t.target_window is None:
            heappush(self.deadlines, (now + patience, self.seq, c, c.step))
        self.wait_area += self.n_wait * (now - self.last_change)  # inlined _change: the hot path
        self.last_change = now
        self.n_wait += 1
        self.n_hall += entering
        if self.track:
            self.log.append((now, self.n_wait, self.n_hall))

    def _set_idle(self, w: _Window, now: float) -> None:
        w.idle = True
        w.idle_since = now
        self.n_idle += 1
        for ci in w.cat_ids:
            self.idle_by_cat[ci].append(w)
        if self._wake_at == INF and self._next_at < INF:
            self._schedule_wake()

    def _unset_idle(self, w: _Window) -> None:
        w.idle = False
        self.n_idle -= 1
        for ci in w.cat_ids:
            self.idle_by_cat[ci].remove(w)

    def _offer(self, c: Citizen) -> None:
        """A ticket joined the queue: the longest-idle window that may serve it calls."""
        if not self.n_idle:
            return
        t = c.ticket
        if t.target_window is not None:
            w = self.windows.get(t.target_window)
            best = w if w is not None and w.idle else None
        else:
            idle = self.idle_by_cat[c.cat]
            best = (idle[0] if len(idle) == 1 else min(idle, key=_idle_since)) if idle else None
        if best is not None:
            best.idle = False  # (inlined _unset_idle)
            self.n_idle -= 1
            for ci in best.cat_ids:
                self.idle_by_cat[ci].remove(best)
            self._call(best)

    # ------------------------------------------------------------ events

    def _catch_up(self, now: float) -> None:
        """Citizens who arrived by ``now`` come in first, in order of arrival.

        An arrival gets an event of its own only while some window is idle
        (:meth:`_schedule_wake`); otherwise nobody could react to it before the next
        event, which lets it in — at its own time — before anything else happens."""
        arrivals = self._arrivals
        while self._next_at <= now:
            c = arrivals[self._next_arrival]
            self._next_arrival += 1
            self._next_at = arrivals[self._next_arrival].arrived if self._next_arrival < len(arrivals) else INF
            at = c.arrived  # (the arrival, inlined: the hot path)
            dl = self.deadlines
            if dl and dl[0][0] <= at:
                self._purge(at)
            self.tickets.append(c.ticket)
            if self.capacity is not None and self.n_hall >= self.capacity:
                c.ticket.state = "cancelled"
                self._record_step(c, BALKED, at, None)
                self._leave(c, at, completed=False)
                continue
            self._enqueue(c, at, entering=1)
            if self.n_idle:
                self._offer(c)

    def _schedule_wake(self) -> None:
        """An idle window must not miss the next arrival: wake at its time."""
        if self.n_idle and self._wake_at == INF and self._next_at < INF:
            at = self._wake_at = self._next_at
            Timeout(self.env, max(at - self.env._now, 0.0)).callbacks.append(self._on_wake)

    def _on_wake(self, ev: simpy.Event) -> None:
        self._wake_at = INF
        self._catch_up(self.env._now)
        self._schedule_wake()

    def _call(self, w: _Window) -> None:
        """Window ``w`` is free: it calls the ticket the calling policy picks, or waits idle."""
        now = self.env._now
        dl = self.deadlines
        if dl and dl[0][0] <= now:
            self._purge(now)
        heads: list[Citizen] = []
        for heap in w.heaps:
            while heap and heap[0][2].ticket.state != "waiting":
                heappop(heap)
            if heap:
                heads.append(heap[0][2])
        specials = self.specials
        if specials:
            heads.extend(specials)
        if not heads:
            self._set_idle(w, now)
            return
        epoch = self.base + now * 60
        if len(heads) == 1:
            c = heads[0]
            choice = self.rules.choose((c.ticket,), epoch, w.number, w.cats)
        else:
            choice = self.rules.choose([h.ticket for h in heads], epoch, w.number, w.cats)
            if choice is not None:
                for c in heads:
                    if c.ticket is choice.ticket:
                        break
        if choice is None:
            self._set_idle(w, now)
            return
        t = choice.ticket
        if self.check_calls:
            self._check_choice(w, t, now)
        if c.special:
            specials.remove(c)
        else:
            heappop(self.queues[c.cat][c.group + 1])
        t.state = "called"
        t.target_window = None
        t.window = w.number
        t.clerk = w.clerk
        t.called_at = epoch
        t.call_reason = choice.reason
        if c.called != c.called:  # nan: first call of this step
            c.called = now
            c.rule = _RULE_NO[choice.rule]
            c.reason = choice.reason
            if c.first_called != c.first_called:
                c.first_called = now
        # (inlined _change: this is the hot path)
        self.wait_area += self.n_wait * (now - self.last_change)
        self.last_change = now
        self.n_wait -= 1
        if self.track:
            self.log.append((now, self.n_wait, self.n_hall))
        w.busy = True
        w.current = c
        k = c.j + c.step
        if self.f_noshow[k] and not c.recalled:
            Timeout(self.env, self.call_timeout, (w, c, now)).callbacks.append(self._on_no_show)
            return
        t.started_at = epoch
        duration = self.f_service[k] / w.skills.get(t.category, 1.0)
        Timeout(self.env, duration, (w, c, now)).callbacks.append(self._on_finish)

    def _check_choice(self, w: _Window, chosen: Ticket, now: float) -> None:
        """Offer *every* waiting ticket to the policy and insist it picks the same one (tests)."""
        everyone = [e[2].ticket for heaps in self.queues for h in heaps for e in h] + [s.ticket for s in self.specials]
        full = self.rules.choose(everyone, self.base + now * 60, w.number, w.cats)
        if full is None or full.ticket is not chosen:
            raise AssertionError(f"window {w.number} at {now:.2f}: heads gave {chosen.number}, full queue gave {full}")

    def _free(self, w: _Window, began: float, now: float) -> None:
        w.busy = False
        w.current = None
        w.busy_time += now - began
        if w.closing:
            self._close(w, now)
        else:
            self._call(w)

    def _on_finish(self, ev: simpy.Event) -> None:
        w, c, began = ev._value
        now = self.env._now
        if self._next_at <= now:
            self._catch_up(now)
        t = c.ticket
        t.state = "finished"
        t.finished_at = self.base + now * 60
        self.step_reasons.append(c.reason)  # (inlined _record_step of SERVED: the hot path)
        self.step_rows.append(
            (
                c.index,
                c.step,
                c.cat,
                c.group,
                c.arrived,
                c.queued,
                c.called,
                began,
                now,
                now,
                w.number,
                w.clerk_no,
                c.rule,
                SERVED,
            )
        )
        c.step += 1
        c.recalled = False
        if c.step < len(c.steps):
            # The next step of the journey: transferred, keeping the place in the queue.
            c.cat = c.steps[c.step]
            t.category = self.plan.categories[c.cat]
            t.window = t.clerk = t.called_at = t.started_at = t.call_reason = None
            t.transfers += 1
            c.special = t.appointment_start is not None
            self._purge(now)
            self._enqueue(c, now)
            self._free(w, began, now)
            if t.state == "waiting":
                self._offer(c)
        else:  # leaves the hall (inlined _change, _leave and _free: the hot path)
            self.wait_area += self.n_wait * (now - self.last_change)
            self.last_change = now
            self.n_hall -= 1
            if self.track:
                self.log.append((now, self.n_wait, self.n_hall))
            self.citizen_rows.append((c.index, c.arrived, now, True, c.group))
            w.busy = False
            w.current = None
            w.busy_time += now - began
            if w.closing:
                self._close(w, now)
            else:
                self._call(w)

    def _on_no_show(self, ev: simpy.Event) -> None:
        w, c, began = ev._value
        now = self.env.now
        if self._next_at <= now:
            self._catch_up(now)
        t = c.ticket
        t.state = "no_show"
        t.no_show_at = self.base + now * 60
        back = self.f_return[c.j + c.step]
        if back < INF:
            self.env.timeout(back, value=(c, w.number)).callbacks.append(self._on_return)
        else:
            self._record_step(c, NO_SHOW, now, w.number)
            self._change(now, 0, -1)
            self._leave(c, now, completed=False)
        self._free(w, began, now)

    def _on_return(self, ev: simpy.Event) -> None:
        c, window = ev._value
        now = self.env.now
        if self._next_at <= now:
            self._catch_up(now)
        self._purge(now)
        t = c.ticket
        c.recalled = True
        c.special = True
        t.target_window = window
        t.recalls.append(self.base + now * 60)
        called, queued, rule, reason = c.called, c.queued, c.rule, c.reason
        self._enqueue(c, now)
        # the wait of this step counts to its first call
        c.called, c.queued, c.rule, c.reason = called, queued, rule, reason
        self._offer(c)

    def _on_open(self, ev: simpy.Event) -> None:
        number, clerk = ev._value
        self.arriving.discard(number)
        if self._next_at <= self.env.now:
            self._catch_up(self.env.now)
        self.open_window(number, clerk, self.env.now)

    def open_window(self, number: int, clerk: str | None, now: float, categories: Sequence[str] | None = None) -> None:
        """``clerk`` sits down at ``number`` and calls its categories (``categories``: a work
        profile instead of the window's configured ones; the clerk's skills still apply)."""
        w = self.windows[number]
        if w.is_open and not w.closing:
            return  # somebody already sits here (a roster overlap): the first stays
        if w.is_open and w.clerk is not None:  # the previous clerk is still finishing: they hand over
            self.clerk_duty[w.clerk] = self.clerk_duty.get(w.clerk, 0.0) + now
            self._settle_busy(w)
        w.clerk = clerk
        w.clerk_no = self.plan.clerk_number(clerk)
        w.skills = self.plan.skills.get(clerk, {}) if clerk is not None else {}
        w.busy_mark = w.busy_time
        if w.idle:
            self._unset_idle(w)
        self._set_categories(w, self.plan.serving(number, clerk, categories))
        w.profile = None if categories is None else tuple(categories)
        w.seated_at = now
        w.closing = False
        if not w.is_open:
            w.is_open = True
            w.open_since = now
        if clerk is not None:
            self.clerk_duty[clerk] = self.clerk_duty.get(clerk, 0.0) - now
        if not w.busy:
            self._purge(now)
            self._call(w)

    def _set_categories(self, w: _Window, cats: frozenset[str]) -> None:
        w.cats = cats
        w.cat_ids = [self.plan.cat_index[c] for c in self.plan.categories if c in cats]
        w.heaps = [h for i, c in enumerate(self.plan.categories) if c in cats for h in self.queues[i]]

    def set_profile(self, number: int, categories: Sequence[str], now: float) -> bool:
        """工作模式: the open window ``number`` calls ``categories`` from now on (within its clerk's
        skills). False when the window is not open."""
        w = self.windows.get(number)
        if w is None or not w.is_open or w.closing:
            return False
        if w.idle:
            self._unset_idle(w)
        self._set_categories(w, self.plan.serving(number, w.clerk, categories))
        w.profile, w.seated_at = tuple(categories), now
        if not w.busy:
            self._purge(now)
            self._call(w)
        return True

    def _on_close(self, ev: simpy.Event) -> None:
        number, clerk = ev._value
        if self._next_at <= self.env.now:
            self._catch_up(self.env.now)
        w = self.windows[number]
        if not w.is_open or w.clerk != clerk:
            return
        if w.busy:
            w.closing = True
        else:
            self._close(w, self.env.now)

    def _settle_busy(self, w: _Window) -> None:
        """Credit the leaving clerk with the window's busy time since they sat down."""
        if w.clerk is not None:
            self.clerk_busy[w.clerk] = self.clerk_busy.get(w.clerk, 0.0) + w.busy_time - w.busy_mark
        w.busy_mark = w.busy_time

    def _close(self, w: _Window, now: float) -> None:
        if w.idle:
            self._unset_idle(w)
        w.is_open = False
        w.closing = False
        w.open_time += now - w.open_since
        if w.clerk is not None:
            self.clerk_duty[w.clerk] = self.clerk_duty.get(w.clerk, 0.0) + now
            self._settle_busy(w)
        w.clerk = None
        moving = self.handover.pop(w.number, None)
        if moving is not None:  # the clerk was moved elsewhere and goes once this window is done
            self._arrive(moving[0], moving[1], now, moving[2])

    def _arrive(self, number: int, clerk: str, now: float, walk: float) -> None:
        """``clerk`` opens ``number`` after ``walk`` minutes (the switching time of a move)."""
        if walk <= 0:
            self.open_window(number, clerk, now)
            return
        self.arriving.add(number)  # reserved: nobody else takes it meanwhile
        self.env.timeout(walk, value=(number, clerk)).callbacks.append(self._on_open)

    # ------------------------------------------------------------ run

    def run(self, weekday: int | None = None) -> DayResult:
        """Simulate the day (arrivals drawn here unless already scheduled) and return its records."""
        if weekday is None:
            weekday = self.day.weekday()
        with gc_paused():
            if not self._arrivals:
                self.schedule_arrivals(weekday, self.start, self.end)
            self.schedule_shifts(self._shifts)
            if self.end is None:
                self.env.run()
            else:
                self.env.run(until=self.end)
            return self.finish(weekday)

    def finish(self, weekday: int) -> DayResult:
        if self.end is not None:
            end = self.end
        else:  # citizens still come after the last window closed: they wait in vain until they leave
            end = max(self.env.now, self._arrivals[-1].arrived if self._arrivals else 0.0)
        self._catch_up(end)
        self._purge(end)
        for heaps in self.queues:
            for heap in heaps:
                for _, _, c in heap:
                    if c.ticket.state == "waiting":
                        self._record_step(c, UNSERVED, end, None)
                        self._leave(c, end, completed=False)
        for c in self.specials:
            self._record_step(c, UNSERVED, end, None)
            self._leave(c, end, completed=False)
        for w in self.windows.values():
            if w.is_open:
                self._close(w, end)
        self._change(end, 0, 0)
        rows = self.step_rows
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in STEP_FIELDS]
        steps = {
            name: np.asarray(col, dtype=float if name in _FLOAT_FIELDS else np.int64)
            for name, col in zip(STEP_FIELDS, cols, strict=True)
        }
        crow = self.citizen_rows
        ccols = list(zip(*crow, strict=True)) if crow else [(), (), (), (), ()]
        citizens = {
            "citizen": np.asarray(ccols[0], dtype=np.int64),
            "arrived": np.asarray(ccols[1], dtype=float),
            "left": np.asarray(ccols[2], dtype=float),
            "completed": np.asarray(ccols[3], dtype=bool),
            "group": np.asarray(ccols[4], dtype=np.int64),
        }
        log = np.asarray(self.log, dtype=float).reshape(-1, 3)
        # The day is over: let go of its citizens and records here, while the collector is
        # paused (gc_paused), so that reference counting frees them rather than the collector
        # scanning them once it resumes. The result keeps the tickets.
        self._arrivals, self.queues, self.deadlines, self.specials = [], [], [], []
        self.step_rows, self.citizen_rows, self.log = [], [], []
        return DayResult(
            day=self.day,
            weekday=weekday,
            open_min=self.plan.open_min,
            close_min=self.plan.close_min,
            end_min=end,
            steps=steps,
            citizens=citizens,
            window_open={n: w.open_time for n, w in self.windows.items()},
            window_busy={n: w.busy_time for n, w in self.windows.items()},
            clerk_duty=dict(self.clerk_duty),
            clerk_busy=dict(self.clerk_busy),
            log_t=log[:, 0],
            log_wait=log[:, 1],
            log_hall=log[:, 2],
            wait_area=self.wait_area,
            tickets=self.tickets,
            clerk_ids=list(self.plan.clerk_ids),
            step_reasons=self.step_reasons,
        )


def simulate_day(hall: Hall, day: date, rng: np.random.Generator, shifts: list[Shift], track: bool = True) -> DayResult:
    """One working day of ``hall`` on ``day`` with these shifts."""
    return HallDay(HallPlan.of(hall), day, rng, shifts, track=track).run()
