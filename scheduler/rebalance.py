"""Live rebalancing (动态调岗): put the hall's clerks where the queue is.

When windows are unevenly busy (窗口忙闲不均), :func:`recommend_moves` decides from
the live state what to change for the next ``rebalance.horizon_minutes``:

1. **Forecast**: per category, the citizens waiting now plus the arrivals expected
   over the horizon — the config's profile blended with what the hall saw in the
   last 30 minutes (a surge shows up there first).
2. **Candidates, from CP-SAT and whole pools**: each clerk at an open window stays as
   they are, or takes one action — a **work profile** (工作模式: their window calls every
   category they are skilled for, one of their window's, their window class's pool, their
   window's own categories again, or their own plus the longest queue they know; nobody
   walks, so it costs nothing but the change itself and is open at any time) or a **move**
   to a closed window whose categories they are skilled for (they lose
   ``rebalance.switch_cost_minutes`` walking and logging in). A fluid model shares each
   clerk's minutes among the categories they would serve and minimises the total waiting
   (the area under the queues) plus a cost per action. A clerk seated less than
   ``rebalance.min_stay_minutes`` ago, or whose shift or break begins within that time, is
   not moved; at most ``rebalance.max_moves`` actions per plan. The plan for each number of
   actions, and each action of the largest plan alone, are candidates; so are group
   changes of profiles that no small plan reaches: each window class pooled (its clerks call
   the union of what they know), the whole hall pooled, everyone back to their window's own
   categories, and the naive rule's step (a clerk takes on the longest queue they know) — so
   the look-ahead always weighs what a simple rule would do.
3. **Look-ahead, on the simulation's live twin**: every candidate and "change nothing"
   run on the same futures of the hall from its live state (common random numbers: the
   same arrivals and service times whatever the candidate) — all on the first
   ``SCREEN_REPS``, the ``SCREEN_KEEP`` most promising on all ``rebalance.lookahead_reps``.
   A candidate is recommended only if it lowers the hall's mean wait significantly (the
   95% interval of the paired difference lies below zero) and its categories gain at least
   ``rebalance.min_gain_minutes``; the best such one wins. A move the look-ahead scores
   worse is never recommended.
4. **Recommendations** say the predicted effect where the clerk goes, with the 95%
   interval the day will fall in if the model is right, and its cost where they come
   from: 「建议将高燕从商事登记综合窗口（1号）调至税务窗口（18号），预计税务办理平均等待
   38→31 分钟（95%区间 27–35）；企业变更注销 8→12 分钟」. Applying one is a core
   command (:class:`~queue_server.commands.MoveClerk` or
   :class:`~queue_server.commands.SetWindowProfile`) through the hall's one command path;
   in ``rebalance.mode: auto`` :func:`rebalance_now` applies the ready ones itself.

The decision is deterministic: CP-SAT runs one worker with a deterministic work limit
(``rebalance.solver_work_seconds``) and no wall-clock limit, the twin a fixed number of
futures seeded by the hall's event ``seq`` — the same state gives the same advice on
an idle machine and a loaded one.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from ortools.sat.python import cp_model

from queue_server.commands import Command, MoveClerk, SetWindowProfile, serving_categories
from queue_server.config import Hall
from queue_server.errors import CommandRejected
from queue_server.model import HallState, WindowState
from simulation.kpis import confidence_interval, prediction_interval
from simulation.model import minutes_of
from simulation.roster import Roster, shifts_for
from simulation.twin import FutureWaits, score_actions

from .staffing import arrival_forecast, day_intervals, erlang_c_mean_wait

Action = MoveClerk | SetWindowProfile
Kind = Literal["move", "profile"]
SAMPLES = 4  # points at which the fluid queues are sampled over the horizon
SCALE = 100  # fluid quantities in 1/100 citizen
SCREEN_REPS = 6  # futures every candidate is scored on before the most promising get the rest
SCREEN_KEEP = 4  # candidates scored on all ``rebalance.lookahead_reps`` futures
PROFILE_PENALTY = 0.25  # a profile change, in the fluid objective, costs this share of a move's


@dataclass(frozen=True)
class Effect:
    """Predicted mean wait (minutes) of some categories without and with the advice, and the
    95% interval the realised mean falls in if the advice is taken."""

    categories: tuple[str, ...]
    before: float
    after: float
    low: float
    high: float
    people: float  # citizens of these categories over the horizon (mean of the futures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "before": round(self.before, 1),
            "after": round(self.after, 1),
            "low": round(self.low, 1) if math.isfinite(self.low) else None,
            "high": round(self.high, 1) if math.isfinite(self.high) else None,
            "people": round(self.people, 1),
        }


@dataclass(frozen=True)
class Recommendation:
    """One suggested action and what it is predicted to do."""

    move: Action  # the core command that applies it
    kind: Kind
    clerk: str
    clerk_name: str
    from_window: int | None
    to_window: int  # the window the clerk serves at afterwards (their own for a profile)
    categories: tuple[str, ...]  # categories the clerk serves afterwards
    gain: Effect  # where the clerk's time goes
    cost: Effect | None  # where it is taken from
    ready: bool  # nothing at the clerk's window now: it can be applied at once
    text: str
    text_en: str

    @staticmethod
    def command_of(move: Command) -> dict[str, Any]:
        """A move or profile command as the API shows it (and matches it when applied)."""
        if isinstance(move, MoveClerk):
            return {"name": move.name, "clerk": move.clerk, "to_window": move.to_window}
        if isinstance(move, SetWindowProfile):
            return {"name": move.name, "window": move.window, "categories": list(move.categories)}
        raise TypeError(f"not a rebalancing command: {move.name}")

    def command(self) -> dict[str, Any]:
        return self.command_of(self.move)

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command(),
            "kind": self.kind,
            "clerk": self.clerk,
            "clerk_name": self.clerk_name,
            "from_window": self.from_window,
            "to_window": self.to_window,
            "categories": list(self.categories),
            "gain": self.gain.as_dict(),
            "cost": self.cost.as_dict() if self.cost else None,
            "ready": self.ready,
            "text": self.text,
            "text_en": self.text_en,
        }


@dataclass
class RebalancePlan:
    """The decision: recommendations (possibly none) and the hall-wide prediction."""

    now: float
    recommendations: list[Recommendation]
    wait_before: dict[str, float]  # per category, minutes, no change
    wait_after: dict[str, float]  # per category, with the recommendations
    mean_wait_before: float
    mean_wait_after: float
    decision_seconds: float
    horizon_minutes: int = 60
    # candidate (its actions' text) -> the look-ahead's mean wait and the paired difference's interval
    lookahead_waits: dict[str, dict[str, float]] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "horizon_minutes": self.horizon_minutes,
            "recommendations": [r.as_dict() for r in self.recommendations],
            "mean_wait_before": round(self.mean_wait_before, 1),
            "mean_wait_after": round(self.mean_wait_after, 1),
            "candidates": self.lookahead_waits,
            "decision_seconds": round(self.decision_seconds, 3),
            "note": self.note,
        }


@dataclass(frozen=True)
class _Option:
    """Where a clerk could be over the horizon and what they would serve there."""

    kind: Literal["stay", "move", "profile"]
    window: int
    serves: frozenset[str]
    profile: tuple[str, ...] = ()  # the work profile to set (kind "profile")


@dataclass(frozen=True)
class _Clerk:
    id: str
    name: str
    window: int  # current window
    options: tuple[_Option, ...]  # the first is "stay"


def _local(hall: Hall, now: float) -> datetime:
    return datetime.fromtimestamp(now, hall.tz)


def _window_label(hall: Hall, number: int | None) -> tuple[str, str]:
    if number is None:
        return "待岗", "standby"
    wc = hall.window_class(hall.window(number).window_class)
    return f"{wc.name}（{number}号）", f"{wc.name_en or wc.id} (window {number})"


def _serves(hall: Hall, clerk: str, window: int, categories: Sequence[str] | None = None) -> frozenset[str]:
    cats = tuple(hall.window_categories(window) if categories is None else categories)
    return serving_categories(hall, WindowState(window, cats, status="open", clerk=clerk))


def _minutes_left(hall: Hall, now: float, clerk: str, roster: Roster | None) -> float:
    """Minutes until ``clerk``'s shift or break begins (from the roster, else the opening hours)."""
    local = _local(hall, now)
    t = local.hour * 60 + local.minute + local.second / 60
    for s in shifts_for(hall, local.date(), roster):
        if s.clerk == clerk:
            for a, b in s.spans():
                if minutes_of(a) <= t < minutes_of(b):
                    return minutes_of(b) - t
    ends = [minutes_of(x) for x in (hall.hours.lunch.start if hall.hours.lunch else None, hall.hours.close) if x]
    return min((e - t for e in ends if e > t), default=0.0)


def _clerks(
    hall: Hall, state: HallState, now: float, roster: Roster | None, queue: dict[str, int] | None = None
) -> list[_Clerk]:
    """Clerks at open windows and what each may do: stay; take a work profile (every category
    they are skilled for, one of their window's, their window class's pool — the union of what
    the class's clerks now at work know —, their window's own categories again, or their own
    plus the longest queue they know); or move to a closed window. Nobody walks for a profile,
    so it is open to any clerk at any time; a move only to a clerk seated for
    ``min_stay_minutes`` with that long still on duty."""
    settings = hall.rebalance
    queue = queue or {}
    taken = {n for n, w in state.windows.items() if w.status != "closed"}
    free = [w.number for w in hall.windows if w.number not in taken]
    order = [c.id for c in hall.categories]
    pools: dict[str, set[str]] = {}
    for number, win in state.windows.items():
        if win.status == "open" and win.clerk is not None:
            try:
                pools.setdefault(hall.window(number).window_class, set()).update(hall.clerk(win.clerk).skills)
            except KeyError:
                continue
    out = []
    seen: set[str] = set()
    for number, win in sorted(state.windows.items()):
        if win.status != "open" or win.clerk is None or win.clerk in seen:
            continue  # (a clerk handing one window over while sitting down at the next counts once)
        seen.add(win.clerk)
        try:
            cfg = hall.clerk(win.clerk)
        except KeyError:
            continue  # a clerk not in the config: we know nothing of their skills
        current = serving_categories(hall, win)
        options = [_Option("stay", number, current)]

        def profile(cats: Sequence[str], options: list[_Option] = options, cfg: Any = cfg, at: int = number) -> None:
            wanted = tuple(g for g in order if g in cats and g in cfg.skills)
            if wanted and frozenset(wanted) != options[0].serves and all(o.profile != wanted for o in options):
                options.append(_Option("profile", at, frozenset(wanted), wanted))

        profile(order)  # every category the clerk knows
        if len(current) > 1:
            for g in order:
                if g in current:
                    profile((g,))
        profile(tuple(pools.get(hall.window(number).window_class, ())))
        profile(hall.window_categories(number))
        known = [g for g in order if g in cfg.skills]
        longest = max(known, key=lambda g: (queue.get(g, 0), -order.index(g)), default=None)
        ahead = queue.get(longest, 0) if longest is not None and longest not in current else 0
        if longest is not None and ahead >= 2 and ahead > sum(queue.get(g, 0) for g in current):
            profile((*current, longest))
        settled = win.since is None or now - win.since >= settings.min_stay_minutes * 60
        if settled and _minutes_left(hall, now, cfg.id, roster) >= settings.min_stay_minutes:
            for w in free:
                cats = _serves(hall, cfg.id, w)
                if cats:
                    options.append(_Option("move", w, cats))
        out.append(_Clerk(cfg.id, cfg.name, number, tuple(options)))
    return out


def _groups(hall: Hall, clerks: list[_Clerk], queue: dict[str, int]) -> list[tuple[tuple[str, int], ...]]:
    """Candidates that change many clerks' profiles at once (nobody walks), beside CP-SAT's few
    actions: each window class pooled (its clerks call the class's pool), the whole hall pooled
    (everyone calls all they know), everyone back to their window's own categories, and the
    naive rule's step (a clerk whose categories have fewer waiting than the longest queue they
    know takes it on) — so the look-ahead always weighs what a simple rule would do."""
    order = [c.id for c in hall.categories]

    def pick(clerk: _Clerk, test: Any) -> int | None:
        return next((i for i, o in enumerate(clerk.options) if o.kind == "profile" and test(clerk, o)), None)

    def group(members: Sequence[_Clerk], test: Any) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((c.id, i) for c in members if (i := pick(c, test)) is not None))

    def skills_of(c: _Clerk) -> frozenset[str]:
        return frozenset(hall.clerk(c.id).skills) & frozenset(order)

    by_class: dict[str, list[_Clerk]] = {}
    for c in clerks:
        by_class.setdefault(hall.window(c.window).window_class, []).append(c)
    out: list[tuple[tuple[str, int], ...]] = []
    for members in by_class.values():
        pool = frozenset().union(*(skills_of(c) for c in members))
        out.append(group(members, lambda c, o, pool=pool: o.serves == pool & skills_of(c)))
    out.append(group(clerks, lambda c, o: o.serves == skills_of(c)))
    out.append(group(clerks, lambda c, o: o.serves == _serves(hall, c.id, c.window)))

    def naive(c: _Clerk, o: _Option) -> bool:
        extra = o.serves - c.options[0].serves
        known = [g for g in order if g in skills_of(c)]
        longest = max(known, key=lambda g: (queue.get(g, 0), -order.index(g)), default=None)
        return o.serves >= c.options[0].serves and extra == {longest}

    out.append(group(clerks, naive))
    seen: set[tuple[tuple[str, int], ...]] = set()
    return [g for g in out if g and not (g in seen or seen.add(g))]  # type: ignore[func-returns-value]


@dataclass
class _Fluid:
    waits: dict[str, float]  # predicted mean wait per category (minutes)
    mean: float
    actions: tuple[tuple[str, int], ...]  # (clerk, option index), the clerks who change


def _solve(
    hall: Hall,
    state: HallState,
    clerks: list[_Clerk],
    queue: dict[str, int],
    rates: dict[str, float],
    max_actions: int,
    moves_only: bool = False,
) -> _Fluid:
    """The fluid model for the horizon with at most ``max_actions`` actions (only moves, with
    ``moves_only``); the plan it picks is then scored by :func:`_evaluate`."""
    settings = hall.rebalance
    horizon = settings.horizon_minutes
    m = cp_model.CpModel()
    z: dict[tuple[str, int], cp_model.IntVar] = {}
    by_window: dict[int, list[cp_model.IntVar]] = {}
    mean_s = {c.id: _mean_service(hall, state, c.id) for c in hall.categories}
    served: dict[str, list[cp_model.LinearExprT]] = {c.id: [] for c in hall.categories}
    move_penalty = round(SCALE * max(1.0, settings.switch_cost_minutes) * SAMPLES / horizon)
    penalties: list[cp_model.LinearExprT] = []
    changes: list[cp_model.IntVar] = []
    lost = round(settings.switch_cost_minutes)
    for clerk in clerks:
        zs = [m.new_bool_var(f"z_{clerk.id}_{i}") for i in range(len(clerk.options))]
        for i, (opt, v) in enumerate(zip(clerk.options, zs, strict=True)):
            z[clerk.id, i] = v
            m.add_hint(v, int(i == 0))  # start from "everybody stays": a plan exists at once
            if opt.kind == "move":
                by_window.setdefault(opt.window, []).append(v)
                penalties.append(move_penalty * v)
            elif opt.kind == "profile":
                penalties.append(round(PROFILE_PENALTY * move_penalty) * v)
            if i:
                changes.append(v)
            if moves_only and opt.kind == "profile":
                m.add(v == 0)
        m.add_exactly_one(zs)
        skills = hall.clerk(clerk.id).skills
        minutes = []
        for g in sorted({g for o in clerk.options for g in o.serves}):
            f = m.new_int_var(0, horizon, f"f_{clerk.id}_{g}")
            m.add(f <= horizon * sum(v for o, v in zip(clerk.options, zs, strict=True) if g in o.serves))
            minutes.append(f)
            served[g].append(round(SCALE * skills.get(g, 1.0) / mean_s[g]) * f)  # citizens/100 per minute
        walking = [v for o, v in zip(clerk.options, zs, strict=True) if o.kind == "move"]
        m.add(sum(minutes) + lost * sum(walking) <= horizon)
    for vs in by_window.values():
        if len(vs) > 1:
            m.add_at_most_one(vs)
    m.add(sum(changes) <= max_actions)
    area = []
    for cat in hall.categories:
        g = cat.id
        total_served = sum(served[g]) if served[g] else 0
        for k in range(1, SAMPLES + 1):
            demand = round(SCALE * (queue.get(g, 0) + rates.get(g, 0.0) * horizon * k / SAMPLES))
            q = m.new_int_var(0, max(0, demand), f"q_{g}_{k}")
            m.add(SAMPLES * q >= SAMPLES * demand - k * total_served)  # capacity spread evenly
            area.append(q)
    m.minimize(cp_model.LinearExpr.sum(area) + cp_model.LinearExpr.sum(penalties))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = settings.solver_work_seconds  # work, not wall-clock
    status = solver.solve(m)
    chosen: dict[str, int] = {}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = {c: i for (c, i), v in z.items() if i and solver.value(v)}
    return _evaluate(hall, state, clerks, queue, rates, chosen)


def _evaluate(
    hall: Hall,
    state: HallState,
    clerks: list[_Clerk],
    queue: dict[str, int],
    rates: dict[str, float],
    chosen: dict[str, int],
) -> _Fluid:
    """Fluid waits when each clerk takes option ``chosen[clerk]`` (the others stay).

    A clerk serving several categories shares their time in proportion to the work waiting
    and arriving in each (as the calling policy pools them); a moved clerk loses the
    switching time."""
    settings = hall.rebalance
    horizon = settings.horizon_minutes
    mean_s = {c.id: _mean_service(hall, state, c.id) for c in hall.categories}
    work = {g: (queue.get(g, 0) + rates.get(g, 0.0) * horizon) * mean_s[g] for g in mean_s}
    capacity: dict[str, float] = dict.fromkeys(mean_s, 0.0)
    for clerk in clerks:
        opt = clerk.options[chosen.get(clerk.id, 0)]
        cats = sorted(opt.serves)
        if not cats:
            continue
        available = 1.0 - (settings.switch_cost_minutes / horizon if opt.kind == "move" else 0.0)
        total = sum(work[g] for g in cats)
        skills = hall.clerk(clerk.id).skills
        for g in cats:
            share = work[g] / total if total > 0 else 1 / len(cats)
            capacity[g] += max(0.0, available) * share * skills.get(g, 1.0)
    waits = predict_waits(hall, queue, rates, capacity, mean_s, horizon)
    return _Fluid(waits, _mean_over(waits, queue, rates, horizon), tuple(sorted(chosen.items())))


def _profile_arrivals(hall: Hall, category: str, lo: datetime, hi: datetime) -> float:
    """Arrivals the configured profile expects for ``category`` between ``lo`` and ``hi``."""
    step = hall.demand.interval_minutes if hall.demand else 30
    total = 0.0
    for s, c in zip(day_intervals(hall, step), arrival_forecast(hall, category, lo.date(), step), strict=True):
        begin = datetime.combine(lo.date(), s, hall.tz)
        end = begin + timedelta(minutes=step)
        overlap = max(0.0, (min(end, hi) - max(begin, lo)).total_seconds() / 60)
        total += c * overlap / step
    return total


def _seen(state: HallState, category: str, now: float) -> int:
    return sum(1 for t in state.tickets.values() if t.category == category and now - 1800 <= t.issued_at <= now)


def _open_for(hall: Hall, now: float) -> float:
    local = _local(hall, now)
    return (local - datetime.combine(local.date(), hall.hours.open, hall.tz)).total_seconds() / 60


def forecast_arrivals(hall: Hall, state: HallState, now: float, horizon_minutes: int) -> dict[str, float]:
    """Expected arrivals per minute per category over the next ``horizon_minutes``.

    The config's profile for the coming intervals, blended 30/70 with the rate seen in
    the last 30 minutes once the hall has been open that long.
    """
    local = _local(hall, now)
    out: dict[str, float] = {}
    for cat in hall.categories:
        expected = _profile_arrivals(hall, cat.id, local, local + timedelta(minutes=horizon_minutes)) / horizon_minutes
        if _open_for(hall, now) >= 30:
            expected = 0.3 * expected + 0.7 * _seen(state, cat.id, now) / 30
        out[cat.id] = expected
    return out


PRIOR_CITIZENS = 5.0  # the profile counts as this many citizens seen when scaling it


def arrival_scale(hall: Hall, state: HallState, now: float) -> dict[str, float]:
    """Per category, how many times the profile's arrivals the hall saw in the last 30 minutes,
    shrunk towards 1 (a few citizens more or less say little): the look-ahead's futures draw
    their arrivals from the profile times this factor, so a surge under way goes on in them."""
    if _open_for(hall, now) < 30:
        return {}
    local = _local(hall, now)
    out = {}
    for cat in hall.categories:
        expected = _profile_arrivals(hall, cat.id, local - timedelta(minutes=30), local)
        ratio = (_seen(state, cat.id, now) + PRIOR_CITIZENS) / (expected + PRIOR_CITIZENS)
        out[cat.id] = min(4.0, max(0.25, ratio))
    return out


def predict_waits(
    hall: Hall,
    queue: dict[str, int],
    rates: dict[str, float],
    capacity: dict[str, float],
    mean_service: dict[str, float],
    horizon: float,
) -> dict[str, float]:
    """Mean wait (minutes) per category over the horizon for ``capacity`` clerks at work.

    Fluid part: the queue ``q + (λ - c/S)·t`` (never below 0) averaged over the citizens
    waiting now and arriving; stochastic part: Erlang C's wait once the queue has
    cleared (when the pool is not overloaded), for the arrivals after that.
    """
    out = {}
    for cat in hall.categories:
        g = cat.id
        lam, s, cap = rates.get(g, 0.0), mean_service[g], capacity.get(g, 0.0)
        q0 = queue.get(g, 0)
        people = q0 + lam * horizon
        if people <= 0:
            out[g] = 0.0
            continue
        mu = cap / s  # citizens served per minute (0 when nobody serves it)
        # fluid waiting area over [0, H]
        drift = lam - mu
        if drift >= 0:
            area = q0 * horizon + drift * horizon**2 / 2
            clear = horizon
        else:
            clear = min(horizon, q0 / -drift)
            area = q0 * clear / 2
        wait = area / people
        if clear < horizon and lam > 0:
            n = max(1, round(cap))
            # a queue starting empty cannot build up more than the horizon allows
            rest = min(erlang_c_mean_wait(n, lam, s * n / cap), horizon / 2)
            share = lam * (horizon - clear) / people
            wait += share * rest
        out[g] = wait
    return out


def _mean_over(waits: dict[str, float], queue: dict[str, int], rates: dict[str, float], horizon: float) -> float:
    weights = {g: queue.get(g, 0) + rates.get(g, 0.0) * horizon for g in waits}
    total = sum(weights.values())
    return sum(waits[g] * weights[g] for g in waits) / total if total else 0.0


def _mean_service(hall: Hall, state: HallState, category: str) -> float:
    """The mean service time the look-ahead's simulation draws from (the configuration's, which
    ``hallq calibrate`` fits to the event log): the fluid plan must rank candidates on the same
    hall the simulation scores them on, and a few recent services — or a demo's accelerated
    ones — say little about the next hour."""
    return hall.category(category).service_time.mean


def _command(clerk: _Clerk, opt: _Option) -> Action:
    if opt.kind == "move":
        return MoveClerk(clerk.id, opt.window)
    return SetWindowProfile(opt.window, opt.profile)


def _label(clerk: _Clerk, opt: _Option) -> str:
    return f"{clerk.id}→{opt.window}" if opt.kind == "move" else f"{clerk.id}@{opt.window}:{'+'.join(opt.profile)}"


def _touched(clerk: _Clerk, opt: _Option) -> tuple[frozenset[str], frozenset[str]]:
    """(categories the action brings the clerk to, categories it takes them from)."""
    before = clerk.options[0].serves
    gain = opt.serves - before or opt.serves
    cost = before - opt.serves or (before if opt.serves - before else frozenset())
    return gain, cost - gain


def recommend_moves(
    hall: Hall,
    state: HallState,
    now: float,
    *,
    rates: dict[str, float] | None = None,
    lookahead: bool = True,
    reps: int | None = None,
    seed: int | None = None,
    roster: Roster | None = None,
) -> RebalancePlan:
    """What to change for the next ``rebalance.horizon_minutes`` (see the module docstring).

    ``rates`` (arrivals per minute per category) overrides :func:`forecast_arrivals`;
    ``lookahead=False`` lets the fluid plan decide alone (no simulation). ``reps`` and
    ``seed`` default to ``rebalance.lookahead_reps`` and the hall's event ``seq``. Never
    changes ``state``."""
    started = _time.monotonic()
    settings = hall.rebalance
    horizon = settings.horizon_minutes
    arrival = rates if rates is not None else forecast_arrivals(hall, state, now, horizon)
    queue: dict[str, int] = {}
    for t in state.tickets.values():
        if t.state == "waiting":
            queue[t.category] = queue.get(t.category, 0) + 1
    clerks = _clerks(hall, state, now, roster, queue)
    by_id = {c.id: c for c in clerks}
    base = _evaluate(hall, state, clerks, queue, arrival, {})
    plans: dict[tuple[tuple[str, int], ...], _Fluid] = {}
    for k in range(1, settings.max_moves + 1):
        fluid = _solve(hall, state, clerks, queue, arrival, k)
        plans.setdefault(fluid.actions, fluid)
        if len(fluid.actions) < k:
            break
    if any(o.kind == "move" for c in clerks for o in c.options):
        walking = _solve(hall, state, clerks, queue, arrival, settings.max_moves, moves_only=True)
        plans.setdefault(walking.actions, walking)  # the best plan that only moves clerks, too
    largest = max(plans, key=len, default=())
    for act in largest:
        plans.setdefault((act,), _evaluate(hall, state, clerks, queue, arrival, dict([act])))
    for key in _groups(hall, clerks, queue):
        pooled = _evaluate(hall, state, clerks, queue, arrival, dict(key))
        # where the fluid model sees some queue gain (its even sharing is too crude to weigh a
        # pool's gain against its cost: the simulation does that)
        if any(pooled.waits[g] < base.waits[g] - 1e-9 for g in base.waits):
            plans.setdefault(key, pooled)
    plans.pop((), None)

    def fluid_gain(f: _Fluid) -> float:
        cats = {g for c, i in f.actions for g in by_id[c].options[i].serves | by_id[c].options[0].serves}
        mine = {g: base.waits[g] for g in cats}
        return _mean_over(mine, queue, arrival, horizon) - _mean_over(
            {g: f.waits[g] for g in cats}, queue, arrival, horizon
        )

    def effects(f_before: FutureWaits | _Fluid, f_after: FutureWaits | _Fluid, cats: frozenset[str]) -> Effect | None:
        if not cats:
            return None
        ordered = tuple(g for g in (c.id for c in hall.categories) if g in cats)
        if isinstance(f_before, _Fluid) and isinstance(f_after, _Fluid):
            people = sum(queue.get(g, 0) + arrival.get(g, 0.0) * horizon for g in ordered)
            b = _mean_over({g: f_before.waits[g] for g in ordered}, queue, arrival, horizon)
            a = _mean_over({g: f_after.waits[g] for g in ordered}, queue, arrival, horizon)
            return Effect(ordered, b, a, math.nan, math.nan, people)
        assert isinstance(f_before, FutureWaits) and isinstance(f_after, FutureWaits)
        after = prediction_interval(f_after.mean(ordered))
        before = float(np.nanmean(f_before.mean(ordered))) if f_before.people(ordered) else 0.0
        return Effect(ordered, before, after.mean if after.n else 0.0, after.low, after.high, f_after.people(ordered))

    def cat_wait(f: FutureWaits | _Fluid, g: str) -> tuple[float, float]:
        """(mean wait, citizens) of category ``g`` under ``f``."""
        if isinstance(f, _Fluid):
            return f.waits[g], queue.get(g, 0) + arrival.get(g, 0.0) * horizon
        return (float(np.nanmean(f.mean([g]))) if f.people([g]) else 0.0), f.people([g])

    def helped(cats: frozenset[str], f_before: FutureWaits | _Fluid, f_after: FutureWaits | _Fluid) -> frozenset[str]:
        """The (at most two) categories of ``cats`` that gain most citizen-minutes: a clerk who
        may now call every category they know mostly helps one or two of them."""
        gains = {}
        for g in cats:
            (b, n), (a, _) = cat_wait(f_before, g), cat_wait(f_after, g)
            gains[g] = (b - a) * n
        best = sorted(cats, key=lambda g: (-gains[g], g))
        return frozenset([g for g in best[:2] if gains[g] > 0] or best[:1])

    looked: dict[str, dict[str, float]] = {}
    note = ""
    chosen: tuple[tuple[str, int], ...] = ()
    before_w: FutureWaits | _Fluid = base
    after_w: FutureWaits | _Fluid = base
    if not lookahead:
        best = min(plans.values(), key=lambda f: (f.mean, len(f.actions)), default=base)
        if best.actions and fluid_gain(best) >= settings.min_gain_minutes:
            chosen, after_w = best.actions, best
        elif best.actions:
            note = (
                f"预计改善不足 {settings.min_gain_minutes:g} 分钟，暂不调岗"
                f" (predicted gain below {settings.min_gain_minutes:g} min; no change)"
            )
    elif plans:
        keys = list(plans)
        total_reps = reps or settings.lookahead_reps
        screen = min(total_reps, SCREEN_REPS)

        def simulate(ks: Sequence[tuple[tuple[str, int], ...]], n: int, first: int = 0) -> list[FutureWaits]:
            return score_actions(
                hall,
                state,
                now,
                [[], *([_command(by_id[c], by_id[c].options[i]) for c, i in key] for key in ks)],
                reps=n,
                seed=state.seq if seed is None else seed,
                horizon_minutes=horizon,
                roster=roster,
                walk_minutes=settings.switch_cost_minutes,
                arrival_scale=arrival_scale(hall, state, now),
                first_rep=first,
            )

        # every candidate on the first futures; the most promising then on the rest as well
        scores = simulate(keys, screen)
        if total_reps > screen and len(keys) > SCREEN_KEEP:
            ahead = sorted(
                range(len(keys)), key=lambda j: (float(np.nanmean(scores[j + 1].mean() - scores[0].mean())), j)
            )
            keys = [keys[j] for j in sorted(ahead[:SCREEN_KEEP])]
            scores = [scores[0], *(scores[keys_index + 1] for keys_index in sorted(ahead[:SCREEN_KEEP]))]
        if total_reps > screen:
            scores = [a.then(b) for a, b in zip(scores, simulate(keys, total_reps - screen, screen), strict=True)]
        none = scores[0]
        none_mean = float(np.nanmean(none.mean()))
        looked["none"] = {"mean": round(none_mean, 2)}
        best_gain = 0.0
        for key, score in zip(keys, scores[1:], strict=True):
            diff = confidence_interval(score.mean() - none.mean())
            name = ", ".join(_label(by_id[c], by_id[c].options[i]) for c, i in key)
            looked[name] = {
                "mean": round(none_mean + diff.mean, 2),
                "difference": round(diff.mean, 2),
                "difference_low": round(diff.low, 2),
                "difference_high": round(diff.high, 2),
            }
            cats = frozenset(g for c, i in key for g in _touched(by_id[c], by_id[c].options[i])[0])
            gain = effects(none, score, helped(cats, none, score))
            touched_gain = gain.before - gain.after if gain else 0.0
            significant = diff.high < 0 and touched_gain >= settings.min_gain_minutes
            if significant and -diff.mean > best_gain:
                best_gain, chosen, after_w = -diff.mean, key, score
        before_w = none
        if not chosen:
            after_w = none
            note = "仿真复核：调整无明显改善，暂不调岗 (the look-ahead found no significant improvement)"
    recs = []
    for c, i in chosen:
        clerk, opt = by_id[c], by_id[c].options[i]
        gain_cats, cost_cats = _touched(clerk, opt)
        gain = effects(before_w, after_w, helped(gain_cats, before_w, after_w))
        assert gain is not None
        recs.append(_recommendation(hall, state, clerk, opt, gain, effects(before_w, after_w, cost_cats)))
    names = [c.id for c in hall.categories]
    if isinstance(before_w, FutureWaits) and isinstance(after_w, FutureWaits):
        wait_before = {g: float(np.nanmean(before_w.mean([g]))) if before_w.people([g]) else 0.0 for g in names}
        wait_after = {g: float(np.nanmean(after_w.mean([g]))) if after_w.people([g]) else 0.0 for g in names}
        mean_before, mean_after = float(np.nanmean(before_w.mean())), float(np.nanmean(after_w.mean()))
    else:
        assert isinstance(before_w, _Fluid) and isinstance(after_w, _Fluid)
        wait_before, wait_after = before_w.waits, after_w.waits
        mean_before, mean_after = before_w.mean, after_w.mean
    return RebalancePlan(
        now=now,
        recommendations=recs,
        wait_before=wait_before,
        wait_after=wait_after,
        mean_wait_before=mean_before,
        mean_wait_after=mean_after,
        decision_seconds=_time.monotonic() - started,
        horizon_minutes=horizon,
        lookahead_waits=looked,
        note=note,
    )


def _effect_text(hall: Hall, e: Effect) -> tuple[str, str]:
    zh = "、".join(hall.category(g).name for g in e.categories)
    en = ", ".join(hall.category(g).name_en or g for g in e.categories)
    return zh, en


def _recommendation(
    hall: Hall, state: HallState, clerk: _Clerk, opt: _Option, gain: Effect, cost: Effect | None
) -> Recommendation:
    src_zh, src_en = _window_label(hall, clerk.window)
    gain_zh, gain_en = _effect_text(hall, gain)
    interval_zh = interval_en = ""
    if math.isfinite(gain.low) and math.isfinite(gain.high):
        interval_zh = f"（95%区间 {max(0.0, gain.low):.0f}–{gain.high:.0f}）"
        interval_en = f" (95% interval {max(0.0, gain.low):.0f}–{gain.high:.0f})"
    effect_zh = f"预计{gain_zh}平均等待 {gain.before:.0f}→{gain.after:.0f} 分钟{interval_zh}"
    effect_en = f"predicted mean wait for {gain_en} {gain.before:.0f} → {gain.after:.0f} min{interval_en}"
    if cost is not None:
        cost_zh, cost_en = _effect_text(hall, cost)
        effect_zh += f"；{cost_zh} {cost.before:.0f}→{cost.after:.0f} 分钟"
        effect_en += f"; {cost_en} {cost.before:.0f} → {cost.after:.0f} min"
    win = state.windows.get(clerk.window)
    if opt.kind == "move":
        dst_zh, dst_en = _window_label(hall, opt.window)
        ready = win is None or win.current is None
        wait_zh = "" if ready else "（待办结当前业务后）"
        wait_en = "" if ready else " once the current service is finished"
        text = f"建议将{clerk.name}从{src_zh}调至{dst_zh}{wait_zh}，{effect_zh}"
        text_en = f"Move {clerk.name} from {src_en} to {dst_en}{wait_en}: {effect_en}"
    else:
        ready = True  # the next call already follows the new profile
        cats_zh = "、".join(hall.category(g).name for g in opt.profile)
        cats_en = ", ".join(hall.category(g).name_en or g for g in opt.profile)
        text = f"建议{src_zh}的{clerk.name}改按工作模式叫号：{cats_zh}，{effect_zh}"
        text_en = f"Let {clerk.name} at {src_en} call {cats_en}: {effect_en}"
    return Recommendation(
        move=_command(clerk, opt),
        kind="move" if opt.kind == "move" else "profile",
        clerk=clerk.id,
        clerk_name=clerk.name,
        from_window=clerk.window,
        to_window=opt.window,
        categories=tuple(g for g in (c.id for c in hall.categories) if g in opt.serves),
        gain=gain,
        cost=cost,
        ready=ready,
        text=text,
        text_en=text_en,
    )


async def apply_recommendation(service: Any, rec: Recommendation, actor: str) -> dict[str, Any]:
    """Apply one recommendation through the hall's one command path (``HallService.execute``).

    Returns the command's result (with its event's ``seq``); raises
    :class:`~queue_server.errors.CommandRejected` if the hall changed meanwhile.
    """
    command: Command = rec.move
    result: dict[str, Any] = await service.execute(command, actor)
    return result


async def rebalance_now(
    service: Any, *, actor: str = "system:rebalancer", roster: Roster | None = None
) -> tuple[RebalancePlan, list[dict[str, Any]]]:
    """Decide now for ``service``'s hall; in ``rebalance.mode: auto`` apply the ready actions.

    Returns the plan and the results of the actions applied (none in ``advise`` mode). An
    action the hall refuses meanwhile (e.g. the window was just taken) is skipped."""
    await service.catch_up()
    hall: Hall = service.hall
    plan = recommend_moves(hall, service.state, service.clock.now(), roster=roster)
    applied: list[dict[str, Any]] = []
    if hall.rebalance.mode == "auto":
        for rec in plan.recommendations:
            if not rec.ready:
                continue
            try:
                applied.append(await apply_recommendation(service, rec, actor))
            except CommandRejected:
                continue
    return plan, applied


def realised_wait(state: HallState, categories: Sequence[str], start: float, end: float) -> tuple[float, int]:
    """Mean wait (minutes) and count of the live hall's tickets of ``categories`` waiting at
    ``start`` or issued before ``end`` (epoch seconds): from issue to the call, or to ``end``
    if not called by then — what a recommendation's prediction is compared with."""
    cats = set(categories)
    total, n = 0.0, 0
    for t in state.tickets.values():
        if t.category not in cats or t.issued_at >= end or t.state in ("cancelled", "expired"):
            continue
        done = t.called_at if t.called_at is not None else math.inf
        if done < start:
            continue
        total += (min(done, end) - t.issued_at) / 60
        n += 1
    return (total / n if n else 0.0), n


def adoption(rec: dict[str, Any], at: float, actor: str) -> dict[str, Any]:
    """What is kept of a recommendation once applied: its text and prediction, when and by whom."""
    keep = ("command", "kind", "clerk", "clerk_name", "text", "text_en", "gain", "cost")
    return {k: rec[k] for k in keep if k in rec} | {"at": at, "by": actor}


def outcome(hall: Hall, state: HallState, adopted: dict[str, Any], now: float) -> dict[str, Any]:
    """An applied recommendation beside what then happened: the realised mean wait of the
    categories it was to help and of those it took the clerk from, over its horizon (so far, while
    the horizon runs: ``done`` false), with whether the prediction's interval held."""
    end = adopted["at"] + hall.rebalance.horizon_minutes * 60
    out = dict(adopted) | {"done": now >= end, "until": end}
    for side in ("gain", "cost"):
        e = adopted.get(side)
        if not e:
            continue
        mean, n = realised_wait(state, e["categories"], adopted["at"], min(now, end))
        within = e.get("low") is not None and e["low"] <= mean <= e["high"]
        out[f"{side}_realised"] = {"mean": round(mean, 1), "citizens": n, "within_interval": within}
    return out
