"""Live rebalancing (动态调岗): move clerks to where the queue is.

When windows are unevenly busy (窗口忙闲不均), the hall moves a clerk from an idle
window to a closed window of a class whose queue is long. :func:`recommend_moves`
takes the hall's live snapshot and decides, for the next hour, which clerks should
move where:

1. **Forecast**: per category, the citizens waiting now plus the arrivals expected
   over the horizon — the config's profile blended with what the hall saw in the
   last 30 minutes (a surge shows up there first).
2. **Fluid model, solved with CP-SAT**: each clerk stays or takes one closed window
   that accepts a category they are skilled for; their minutes over the horizon are
   shared among the categories of their window (at their proficiency); the queue of
   each category falls at the rate it is served and grows with its arrivals. The
   objective is the total waiting time (the area under the queues, sampled at four
   points) plus a switching cost per move. A moved clerk loses
   ``rebalance.switch_cost_minutes`` of service; a clerk who moved (or whose window
   changed status) less than ``rebalance.min_stay_minutes`` ago is not moved again;
   at most ``rebalance.max_moves`` moves at once.
3. **Look-ahead** (optional): ``lookahead(hall, state, now, moves, reps, seed)`` —
   the simulation twin, :func:`twin_lookahead` — scores the CP-SAT plan, each of its
   moves alone and "no move" from the current state with common random numbers; the
   best is kept. :func:`rebalance_now` uses the twin by default when the hall enables
   ``simulation.live_twin``.
4. **Recommendations** state the predicted effect in the manager's words:
   「建议将张三从税务窗口（16号）调至商事登记综合窗口（2号），预计平均等待 32→14 分钟」.
   Applying one is the core command :class:`~queue_server.commands.MoveClerk`
   through the hall's one command path (:func:`apply_recommendation`); in
   ``rebalance.mode: auto`` :func:`rebalance_now` applies them itself.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ortools.sat.python import cp_model

from queue_server.commands import MoveClerk, serving_categories
from queue_server.config import Hall
from queue_server.errors import CommandRejected
from queue_server.model import HallState, WindowState

from .staffing import arrival_forecast, day_intervals, erlang_c_mean_wait

# (hall, state, now, moves, reps, seed) -> predicted mean wait in minutes over the look-ahead
Lookahead = Callable[[Hall, HallState, float, Sequence[MoveClerk], int, int], float]

SAMPLES = 4  # points at which the fluid queues are sampled over the horizon
SCALE = 100  # fluid quantities in 1/100 citizen


@dataclass(frozen=True)
class Recommendation:
    """One suggested move and what it is predicted to do."""

    move: MoveClerk
    clerk_name: str
    from_window: int | None
    to_window: int
    categories: tuple[str, ...]  # categories the clerk will serve there
    wait_before: float  # predicted mean wait of those categories without any move (minutes)
    wait_after: float  # … with the recommended moves
    ready: bool  # the clerk's window has no ticket now, so the move can be applied at once
    text: str
    text_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": {"name": self.move.name, "clerk": self.move.clerk, "to_window": self.move.to_window},
            "clerk_name": self.clerk_name,
            "from_window": self.from_window,
            "to_window": self.to_window,
            "categories": list(self.categories),
            "wait_before": round(self.wait_before, 1),
            "wait_after": round(self.wait_after, 1),
            "ready": self.ready,
            "text": self.text,
            "text_en": self.text_en,
        }


@dataclass
class RebalancePlan:
    """The decision: recommendations (possibly none) and the hall-wide prediction."""

    now: float
    recommendations: list[Recommendation]
    wait_before: dict[str, float]  # per category, minutes, no move
    wait_after: dict[str, float]  # per category, with the recommendations
    mean_wait_before: float
    mean_wait_after: float
    decision_seconds: float
    lookahead_waits: dict[str, float] = field(default_factory=dict)  # candidate -> simulated mean wait
    note: str = ""


@dataclass(frozen=True)
class _Clerk:
    id: str
    name: str
    window: int  # current window
    movable: bool
    options: tuple[int, ...]  # windows it may take (current first)


def _local(hall: Hall, now: float) -> datetime:
    return datetime.fromtimestamp(now, hall.tz)


def forecast_arrivals(hall: Hall, state: HallState, now: float, horizon_minutes: int) -> dict[str, float]:
    """Expected arrivals per minute per category over the next ``horizon_minutes``.

    The config's profile for the coming intervals, blended 30/70 with the rate seen in
    the last 30 minutes once the hall has been open that long.
    """
    local = _local(hall, now)
    step = hall.demand.interval_minutes if hall.demand else 30
    starts = day_intervals(hall, step)
    out: dict[str, float] = {}
    opened = datetime.combine(local.date(), hall.hours.open, hall.tz)
    open_for = (local - opened).total_seconds() / 60
    for cat in hall.categories:
        counts = arrival_forecast(hall, cat.id, local.date(), step)
        total = 0.0
        for s, c in zip(starts, counts, strict=True):
            begin = datetime.combine(local.date(), s, hall.tz)
            end = begin + timedelta(minutes=step)
            lo, hi = max(begin, local), min(end, local + timedelta(minutes=horizon_minutes))
            overlap = max(0.0, (hi - lo).total_seconds() / 60)
            total += c * overlap / step
        expected = total / horizon_minutes
        seen = sum(1 for t in state.tickets.values() if t.category == cat.id and now - 1800 <= t.issued_at <= now)
        if open_for >= 30:
            expected = 0.3 * expected + 0.7 * seen / 30
        out[cat.id] = expected
    return out


def _window_label(hall: Hall, number: int | None) -> tuple[str, str]:
    if number is None:
        return "待岗", "standby"
    wc = hall.window_class(hall.window(number).window_class)
    return f"{wc.name}（{number}号）", f"{wc.name_en or wc.id} (window {number})"


def _serves(hall: Hall, clerk: str, window: int) -> frozenset[str]:
    win = WindowState(window, tuple(hall.window_categories(window)), status="open", clerk=clerk)
    return serving_categories(hall, win)


def _clerks(hall: Hall, state: HallState, now: float) -> tuple[list[_Clerk], set[int]]:
    """Clerks at open windows (movable or not) and the closed windows they could take."""
    busy_windows = {n for n, w in state.windows.items() if w.status != "closed"}
    free = [w.number for w in hall.windows if w.number not in busy_windows]
    min_stay = hall.rebalance.min_stay_minutes * 60
    out = []
    for number, win in sorted(state.windows.items()):
        if win.status != "open" or win.clerk is None:
            continue
        try:
            cfg = hall.clerk(win.clerk)
        except KeyError:
            continue  # a clerk not in the config: we know nothing of their skills
        movable = win.since is None or now - win.since >= min_stay
        options = [number]
        if movable:
            options += [w for w in free if _serves(hall, cfg.id, w)]
        out.append(_Clerk(cfg.id, cfg.name, number, movable, tuple(options)))
    return out, set(free)


@dataclass
class _Fluid:
    waits: dict[str, float]  # predicted mean wait per category (minutes)
    mean: float
    moves: list[tuple[str, int, int]]  # clerk, from, to


def _mean_service(hall: Hall, state: HallState, category: str) -> float:
    recent = state.recent_services.get(category)
    if recent and len(recent) >= 3:
        return sum(recent) / len(recent) / 60
    return hall.category(category).service_time.mean


def _solve(
    hall: Hall,
    state: HallState,
    clerks: list[_Clerk],
    queue: dict[str, int],
    rates: dict[str, float],
    max_moves: int,
    time_limit: float,
) -> _Fluid:
    """The fluid model for the horizon, at most ``max_moves`` moves; the plan it picks is then
    scored by :func:`_evaluate`."""
    settings = hall.rebalance
    horizon = settings.horizon_minutes
    m = cp_model.CpModel()
    z: dict[tuple[str, int], cp_model.IntVar] = {}
    flow: dict[tuple[str, str], cp_model.IntVar] = {}
    moved: dict[str, cp_model.IntVar] = {}
    by_window: dict[int, list[cp_model.IntVar]] = {}
    mean_s = {c.id: _mean_service(hall, state, c.id) for c in hall.categories}
    served: dict[str, list[cp_model.LinearExprT]] = {c.id: [] for c in hall.categories}
    for clerk in clerks:
        options = [clerk.window] if not clerk.movable else list(clerk.options)
        for w in options:
            v = m.new_bool_var(f"z_{clerk.id}_{w}")
            z[clerk.id, w] = v
            by_window.setdefault(w, []).append(v)
        m.add_exactly_one(z[clerk.id, w] for w in options)
        mv = m.new_bool_var(f"moved_{clerk.id}")
        m.add(mv == 1 - z[clerk.id, clerk.window]) if (clerk.id, clerk.window) in z else m.add(mv == 1)
        moved[clerk.id] = mv
        skills = hall.clerk(clerk.id).skills
        cats = sorted({g for w in options for g in _serves(hall, clerk.id, w)})
        minutes = []
        for g in cats:
            f = m.new_int_var(0, horizon, f"f_{clerk.id}_{g}")
            flow[clerk.id, g] = f
            m.add(f <= horizon * sum(z[clerk.id, w] for w in options if g in _serves(hall, clerk.id, w)))
            minutes.append(f)
            # citizens served (in 1/SCALE) per minute of this clerk on g
            served[g].append(round(SCALE * skills[g] / mean_s[g]) * f)
        lost = round(settings.switch_cost_minutes)
        m.add(sum(minutes) + lost * mv <= horizon)
    for vs in by_window.values():
        if len(vs) > 1:
            m.add_at_most_one(vs)
    m.add(sum(moved.values()) <= max_moves)
    # queue of g sampled at k·H/SAMPLES: waiting + arrivals so far - served so far (never < 0)
    area_terms = []
    for cat in hall.categories:
        g = cat.id
        total_served = sum(served[g]) if served[g] else 0
        for k in range(1, SAMPLES + 1):
            frac_num = k
            demand = round(SCALE * (queue.get(g, 0) + rates.get(g, 0.0) * horizon * k / SAMPLES))
            q = m.new_int_var(0, max(0, demand), f"q_{g}_{k}")
            # served by then = total_served * k / SAMPLES (capacity spread evenly)
            m.add(SAMPLES * q >= SAMPLES * demand - frac_num * total_served)
            area_terms.append(q)
    # start from "everybody stays", so a plan exists from the first moment
    for (clerk_id, w), v in z.items():
        m.add_hint(v, int(w == next(c.window for c in clerks if c.id == clerk_id)))
    # a move also costs waiting minutes: one citizen waiting the switching time
    penalty = round(SCALE * max(1.0, settings.switch_cost_minutes) * SAMPLES / horizon)
    m.minimize(sum(area_terms) + penalty * sum(moved.values()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    # a deterministic work limit keeps the decision reproducible (simulation, tests); the
    # wall-clock limit is only the safety net on a loaded machine
    solver.parameters.max_deterministic_time = time_limit
    solver.parameters.max_time_in_seconds = 2 * time_limit
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # out of time before any plan (a loaded machine): staying put is the safe answer
        return _evaluate(hall, state, clerks, queue, rates, {})
    where: dict[str, int] = {}
    for (clerk_id, w), v in z.items():
        if solver.value(v):
            where[clerk_id] = w
    return _evaluate(hall, state, clerks, queue, rates, where)


def _evaluate(
    hall: Hall,
    state: HallState,
    clerks: list[_Clerk],
    queue: dict[str, int],
    rates: dict[str, float],
    where: dict[str, int],
) -> _Fluid:
    """Predicted waits when each clerk sits at ``where[clerk]``.

    A clerk at a window of several categories shares their time in proportion to the
    work waiting and arriving in each (as the calling policy pools them); a moved clerk
    loses the switching time.
    """
    settings = hall.rebalance
    horizon = settings.horizon_minutes
    mean_s = {c.id: _mean_service(hall, state, c.id) for c in hall.categories}
    work = {g: (queue.get(g, 0) + rates.get(g, 0.0) * horizon) * mean_s[g] for g in mean_s}
    capacity: dict[str, float] = {g: 0.0 for g in mean_s}
    moves = []
    for clerk in clerks:
        w = where.get(clerk.id, clerk.window)
        if w != clerk.window:
            moves.append((clerk.id, clerk.window, w))
        cats = sorted(_serves(hall, clerk.id, w))
        if not cats:
            continue
        available = 1.0 - (settings.switch_cost_minutes / horizon if w != clerk.window else 0.0)
        total = sum(work[g] for g in cats)
        skills = hall.clerk(clerk.id).skills
        for g in cats:
            share = work[g] / total if total > 0 else 1 / len(cats)
            capacity[g] += max(0.0, available) * share * skills[g]
    waits = predict_waits(hall, queue, rates, capacity, mean_s, horizon)
    return _Fluid(waits, _mean_over(waits, queue, rates, horizon), moves)


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


def twin_lookahead(hall: Hall, state: HallState, now: float, moves: Sequence[MoveClerk], reps: int, seed: int) -> float:
    """The look-ahead on the simulation's live twin: mean wait (minutes) of everyone
    waiting or arriving over ``rebalance.horizon_minutes`` when ``moves`` are made now.

    Every candidate runs on the same ``reps`` futures drawn from ``seed`` (common random
    numbers), so the difference between two candidates is the moves', not chance's.
    """
    from simulation.twin import mean_wait  # the simulation only when the twin is asked for

    return mean_wait(hall, state, now, moves, reps=reps, seed=seed, horizon_minutes=hall.rebalance.horizon_minutes)


def recommend_moves(
    hall: Hall,
    state: HallState,
    now: float,
    *,
    rates: dict[str, float] | None = None,
    lookahead: Lookahead | None = None,
    reps: int = 20,
    seed: int = 0,
    time_limit: float = 0.4,
) -> RebalancePlan:
    """Which clerks should move where for the next ``rebalance.horizon_minutes``.

    ``rates`` (arrivals per minute per category) overrides :func:`forecast_arrivals`.
    ``lookahead`` is the simulation check (see the module docstring); without it the
    fluid model decides alone. Never changes ``state``.
    """
    started = _time.monotonic()
    settings = hall.rebalance
    horizon = settings.horizon_minutes
    arrival = rates if rates is not None else forecast_arrivals(hall, state, now, horizon)
    queue: dict[str, int] = {}
    for t in state.tickets.values():
        if t.state == "waiting":
            queue[t.category] = queue.get(t.category, 0) + 1
    clerks, _free = _clerks(hall, state, now)
    base = _evaluate(hall, state, clerks, queue, arrival, {})
    # candidates: the CP-SAT plan for each number of moves, and each move of the largest alone
    plans: dict[tuple[tuple[str, int, int], ...], _Fluid] = {}
    per_move = max(0.05, time_limit / (settings.max_moves + 1))
    for k in range(1, settings.max_moves + 1):
        fluid = _solve(hall, state, clerks, queue, arrival, k, per_move)
        plans.setdefault(tuple(fluid.moves), fluid)
        if len(fluid.moves) < k:
            break
    largest = max(plans, key=len, default=())
    for mv in largest:
        plans.setdefault((mv,), _evaluate(hall, state, clerks, queue, arrival, {mv[0]: mv[2]}))
    plans.pop((), None)
    best = min(plans.values(), key=lambda f: (f.mean, len(f.moves)), default=base)
    chosen = best
    looked: dict[str, float] = {}
    note = ""
    if lookahead is not None and best.moves:
        candidates: dict[str, list[tuple[str, int, int]]] = {"none": [], "plan": best.moves}
        for mv in best.moves if len(best.moves) > 1 else []:
            candidates[f"only:{mv[0]}"] = [mv]
        for name, mvs in candidates.items():
            looked[name] = lookahead(hall, state, now, [MoveClerk(c, to) for c, _, to in mvs], reps, seed)
        winner = min(looked, key=lambda k: (looked[k], len(candidates[k])))
        if winner == "none":
            chosen = base
            note = "仿真复核：调岗无明显改善 (the look-ahead found no improvement)"
        elif winner != "plan":
            chosen = plans[tuple(candidates[winner])]
    # the gain is judged on the categories the moves touch (where the clerks come from and go to)
    touched = {g for c, src, dst in chosen.moves for w in (src, dst) for g in _serves(hall, c, w)}
    gain = _mean_over({g: base.waits[g] for g in touched}, queue, arrival, horizon) - _mean_over(
        {g: chosen.waits[g] for g in touched}, queue, arrival, horizon
    )
    if chosen.moves and gain < settings.min_gain_minutes and not looked:
        note = (
            f"预计改善不足 {settings.min_gain_minutes:g} 分钟，暂不调岗"
            f" (predicted gain below {settings.min_gain_minutes:g} min; no move)"
        )
        chosen = base
    recs = [_recommendation(hall, state, mv, base, chosen) for mv in chosen.moves]
    return RebalancePlan(
        now=now,
        recommendations=recs,
        wait_before=base.waits,
        wait_after=chosen.waits,
        mean_wait_before=base.mean,
        mean_wait_after=chosen.mean,
        decision_seconds=_time.monotonic() - started,
        lookahead_waits=looked,
        note=note,
    )


def _recommendation(
    hall: Hall, state: HallState, move: tuple[str, int, int], base: _Fluid, after: _Fluid
) -> Recommendation:
    clerk_id, src, dst = move
    cats = tuple(sorted(_serves(hall, clerk_id, dst)))
    before = sum(base.waits[g] for g in cats) / len(cats)
    later = sum(after.waits[g] for g in cats) / len(cats)
    name = hall.clerk(clerk_id).name
    src_zh, src_en = _window_label(hall, src)
    dst_zh, dst_en = _window_label(hall, dst)
    cat_zh = "、".join(hall.category(g).name for g in cats)
    cat_en = ", ".join(hall.category(g).name_en or g for g in cats)
    win = state.windows.get(src)
    ready = win is None or win.current is None
    wait_zh = "" if ready else "（待办结当前业务后）"
    wait_en = "" if ready else " once the current service is finished"
    text = (
        f"建议将{name}从{src_zh}调至{dst_zh}{wait_zh}，"
        f"预计{cat_zh}平均等待 {before:.0f}→{later:.0f} 分钟"
    )
    text_en = (
        f"Move {name} from {src_en} to {dst_en}{wait_en}: predicted mean wait for {cat_en} "
        f"{before:.0f} → {later:.0f} min"
    )
    return Recommendation(
        move=MoveClerk(clerk_id, dst),
        clerk_name=name,
        from_window=src,
        to_window=dst,
        categories=cats,
        wait_before=before,
        wait_after=later,
        ready=ready,
        text=text,
        text_en=text_en,
    )


async def apply_recommendation(service: Any, rec: Recommendation, actor: str) -> dict[str, Any]:
    """Apply one recommendation through the hall's one command path (``HallService.execute``).

    Returns the command's result (with the ``clerk.moved`` event's ``seq``); raises
    :class:`~queue_server.errors.CommandRejected` if the hall changed meanwhile.
    """
    result: dict[str, Any] = await service.execute(rec.move, actor)
    return result


async def rebalance_now(
    service: Any,
    *,
    lookahead: Lookahead | None = None,
    actor: str = "system:rebalancer",
    seed: int = 0,
) -> tuple[RebalancePlan, list[dict[str, Any]]]:
    """Decide now for ``service``'s hall; in ``rebalance.mode: auto`` apply the ready moves.

    Returns the plan and the results of the moves applied (none in ``advise`` mode).
    A move the hall refuses meanwhile (e.g. the window was just taken) is skipped.
    Without ``lookahead``, a hall with ``simulation.live_twin.enabled`` is checked on
    the twin (:func:`twin_lookahead`).
    """
    await service.catch_up()
    hall: Hall = service.hall
    if lookahead is None and hall.simulation.live_twin.enabled:
        lookahead = twin_lookahead
    now = service.clock.now()
    plan = recommend_moves(hall, service.state, now, lookahead=lookahead, seed=seed)
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
