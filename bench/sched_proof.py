"""Proof in the product's own simulation: does live rebalancing pay, and can its predictions be trusted?

The example hall (config.yaml) runs in ``simulation.model.HallDay``, the model the planner and the
live twin use; every 15 minutes the rebalancer sees the simulated hall as the server would
(``HallDay.live_state``) and its advice is carried out in the simulation (a moved clerk walks for
``rebalance.switch_cost_minutes``). Scenarios:

- ``surge``: a Tuesday, 税务办理 arrives at 2.5× its profile from 10:00 to 12:00 (measured 10:00–12:00);
- ``absent``: a Tuesday, 郭霞 (tax, the fastest tax clerk) and 宋佳 (social insurance) are absent
  (measured 09:30–11:30);
- ``lunch``: the hall stays open over lunch, clerks take staggered breaks (zones B and C
  11:30–12:30, zone A 12:30–13:30), citizens keep coming at the late morning's rate (11:30–13:30);
- ``monday``: the example hall's Monday (weekday factor 1.3), nothing unusual (09:30–11:30).

Each day starts at opening (or an hour before the measured span) so queues are those of the day;
the rebalancer decides every 15 minutes through the measured span.

Each under: nobody moves (static); a naive rule (every 5 minutes an idle clerk takes on the
longest queue they are skilled for); the fluid CP-SAT plan alone; CP-SAT +
SimPy look-ahead (the product); the look-ahead with a two-skill chain (each clerk also trained for
the next window class's categories) and with full cross-training; and full pooling (every window
calls every category, every clerk skilled for all: the upper bound no rebalancing can pass).
The same arrivals and service times per seed under every policy (common random numbers); the
differences are paired per seed with 95% intervals.

Calibration: every recommendation the look-ahead makes predicts the mean wait of the categories it
helps over its horizon, with a 95% interval; the realised mean of the same citizens is measured on
the simulated day (``simulation.twin.waits_in_window``: the same definition). Later advice within
the horizon changes what happens, so the realised figure is the one of the hall that kept
rebalancing.

    PYTHONPATH=. python bench/sched_proof.py [--seeds 20] [--workers 2] [--scenarios surge,absent,lunch,monday]
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import numpy as np

from queue_server.commands import MoveClerk, SetWindowProfile
from queue_server.config import Hall, load_config
from scheduler.rebalance import recommend_moves
from simulation.kpis import confidence_interval
from simulation.model import HallDay, HallPlan, gc_paused
from simulation.roster import Roster, Shift, default_shifts
from simulation.twin import span_end, waits_in_window

ROOT = Path(__file__).resolve().parent.parent
TUESDAY, MONDAY = date(2026, 12, 8), date(2026, 12, 7)
DECIDE_EVERY = 15.0  # minutes between two decisions of the rebalancer
NAIVE_EVERY = 5.0
POLICIES = ("static", "naive", "fluid", "lookahead", "chain", "full", "pooling")
LABELS = {
    "static": "nobody moves 不调岗",
    "naive": "naive rule 空闲即去最长队",
    "fluid": "fluid CP-SAT plan alone",
    "lookahead": "CP-SAT + SimPy look-ahead",
    "chain": "look-ahead, two-skill chain",
    "full": "look-ahead, full cross-training",
    "pooling": "full pooling (upper bound)",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    day: date
    start: float  # minutes since midnight: the span measured
    end: float
    lunch_open: bool = False  # the hall stays open over lunch, clerks take staggered breaks
    absent: tuple[str, ...] = ()
    surge: tuple[str, float, float, float] | None = None  # category, from, to (minutes), factor


SCENARIOS = {
    "surge": Scenario("surge", TUESDAY, 10 * 60, 12 * 60, surge=("tax", 10 * 60, 12 * 60, 2.5)),
    "absent": Scenario("absent", TUESDAY, 9 * 60 + 30, 11 * 60 + 30, absent=("c16", "c24")),
    "lunch": Scenario("lunch", TUESDAY, 11 * 60 + 30, 13 * 60 + 30, lunch_open=True),
    "monday": Scenario("monday", MONDAY, 9 * 60 + 30, 11 * 60 + 30),
}


def base_hall() -> Hall:
    return load_config(ROOT / "config.yaml").halls[0]


def _with(hall: Hall, **changes: Any) -> Hall:
    return hall.model_copy(update=changes)


def hall_for(scenario: Scenario, skills: str) -> Hall:
    """The hall as its managers configured it for this scenario (what the rebalancer knows)."""
    hall = base_hall()
    if scenario.lunch_open:  # open over lunch, citizens keep coming at the late morning's rate
        shape = list(hall.demand.shape) if hall.demand else []
        shape = [w if w > 0 else 7.0 for w in shape]
        hall = _with(
            hall,
            hours=hall.hours.model_copy(update={"lunch": None}),
            demand=hall.demand.model_copy(update={"shape": shape}) if hall.demand else None,
        )
    if skills == "configured":
        return hall
    classes = list(hall.window_classes)
    own = {c.id: hall.window_categories(c.home_window) if c.home_window else list(c.skills) for c in hall.clerks}
    clerks = []
    for c in hall.clerks:
        if skills == "full" or skills == "pooling":
            sk = {g.id: c.skills.get(g.id, 1.0) for g in hall.categories}
        else:  # chain: the clerk's window class and the next one's
            cls = hall.window(c.home_window).window_class if c.home_window else None
            i = next((k for k, wc in enumerate(classes) if wc.id == cls), 0)
            nxt = classes[(i + 1) % len(classes)].categories
            sk = {g: c.skills.get(g, 1.0) for g in [*own[c.id], *nxt]} | dict(c.skills)
        clerks.append(c.model_copy(update={"skills": sk}))
    hall = _with(hall, clerks=clerks)
    if skills == "pooling":
        every = [g.id for g in hall.categories]
        hall = _with(hall, windows=[w.model_copy(update={"categories": every}) for w in hall.windows])
    return hall


def world_for(scenario: Scenario, hall: Hall) -> Hall:
    """The hall as the day really is: a surge the configuration does not know of."""
    if scenario.surge is None:
        return hall
    cat, lo, hi, factor = scenario.surge
    step = hall.demand.interval_minutes if hall.demand else 30
    open_min = hall.hours.open.hour * 60 + hall.hours.open.minute
    shape = list(hall.demand.shape) if hall.demand else [1.0] * hall.intervals_per_day()
    total = sum(shape)
    surged = [w * (factor if lo <= open_min + i * step < hi else 1.0) for i, w in enumerate(shape)]
    categories = [
        c.model_copy(update={"arrival_shape": surged, "arrivals_per_day": c.arrivals_per_day * sum(surged) / total})
        if c.id == cat
        else c
        for c in hall.categories
    ]
    return _with(hall, categories=categories)


def shifts_of(scenario: Scenario, hall: Hall) -> list[Shift]:
    shifts = [s for s in default_shifts(hall, scenario.day) if s.clerk not in scenario.absent]
    if scenario.lunch_open:
        out = []
        for s in shifts:
            zone = hall.window(s.window).zone
            b = (dtime(11, 30), dtime(12, 30)) if zone in ("zone-b", "zone-c") else (dtime(12, 30), dtime(13, 30))
            out.append(Shift(s.clerk, s.day, s.start, s.end, s.window, *b))
        shifts = out
    return shifts


@dataclass
class Outcome:
    mean: float
    p90: float
    decisions: int = 0
    decision_seconds: list[float] = field(default_factory=list)
    calibration: list[dict[str, float]] = field(default_factory=list)


def _naive(sim: HallDay, now: float, changed_at: dict[str, float]) -> None:
    """An idle clerk with nobody to call takes the longest queue they are skilled for: their
    window calls it too (every window of the example hall is staffed, so there is no closed
    window to walk to)."""
    plan = sim.plan
    waiting = [sum(len(h) for h in sim.queues[i]) for i in range(len(plan.categories))]
    for w in list(sim.windows.values()):
        if not w.is_open or w.busy or w.closing or w.clerk is None or now - changed_at.get(w.clerk, -1e9) < 30:
            continue
        skills = plan.skills.get(w.clerk, {})
        best = max((g for g in skills if g in plan.cat_index), key=lambda g: waiting[plan.cat_index[g]], default=None)
        if best is None or best in w.cats or waiting[plan.cat_index[best]] < 2:
            continue
        if sim.set_profile(w.number, [*w.cats, best], now):
            changed_at[w.clerk] = now


def run_day(scenario: Scenario, policy: str, seed: int) -> Outcome:
    skills = {"chain": "chain", "full": "full", "pooling": "pooling"}.get(policy, "configured")
    hall = hall_for(scenario, skills)
    world = world_for(scenario, hall)
    shifts = shifts_of(scenario, hall)
    roster = Roster(tuple(shifts))
    horizon = hall.rebalance.horizon_minutes
    run_end = scenario.end + horizon
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(list(SCENARIOS).index(scenario.name),)))
    sim = HallDay(
        HallPlan.of(world), scenario.day, rng, shifts, start=min(scenario.start - 60, 9 * 60), end=run_end, track=False
    )
    out = Outcome(math.nan, math.nan)
    moved_at: dict[str, float] = {}
    pending: list[dict[str, Any]] = []
    with gc_paused():
        sim.schedule_arrivals(scenario.day.weekday(), sim.start, run_end)
        sim.schedule_shifts(shifts)
        t = scenario.start - DECIDE_EVERY
        sim.env.run(until=t)
        decide = policy in ("fluid", "lookahead", "chain", "full")
        while t < scenario.end:
            step = NAIVE_EVERY if policy == "naive" else DECIDE_EVERY
            t += step
            sim.env.run(until=t)
            if policy == "naive":
                _naive(sim, t, moved_at)
            if not decide or t >= scenario.end:
                continue
            state = sim.live_state(seq=seed * 1000 + int(t))
            now = sim.base + t * 60
            plan = recommend_moves(hall, state, now, lookahead=policy != "fluid", roster=roster)
            out.decisions += 1
            out.decision_seconds.append(plan.decision_seconds)
            for rec in plan.recommendations:
                if isinstance(rec.move, MoveClerk):
                    mv = rec.move
                    if sim.move_clerk(mv.clerk, mv.to_window, t, hall.rebalance.switch_cost_minutes):
                        sim.schedule_close(mv.to_window, mv.clerk, span_end(shifts, mv.clerk, t, run_end))
                elif isinstance(rec.move, SetWindowProfile):
                    sim.set_profile(rec.move.window, rec.move.categories, t)
            if policy == "lookahead" and plan.recommendations:
                rec = plan.recommendations[0]
                pending.append(
                    {
                        "t": t,
                        "cats": rec.gain.categories,
                        "before": rec.gain.before,
                        "after": rec.gain.after,
                        "low": rec.gain.low,
                        "high": rec.gain.high,
                        "hall_after": plan.mean_wait_after,
                    }
                )
        sim.env.run(until=run_end)
        res = sim.finish(scenario.day.weekday())
    s = res.steps
    done = np.where(np.isnan(s["called"]), s["left"], s["called"])
    mask = (s["queued"] >= scenario.start) & (s["queued"] < scenario.end)
    waits = done[mask] - s["queued"][mask]
    out.mean = float(waits.mean()) if len(waits) else 0.0
    out.p90 = float(np.percentile(waits, 90)) if len(waits) else 0.0
    names = HallPlan.of(world).categories
    for p in pending:
        sums = waits_in_window(res, names, p["t"], p["t"] + horizon)
        total = sum(sums[g][0] for g in p["cats"])
        n = sum(sums[g][1] for g in p["cats"])
        if n:
            out.calibration.append(p | {"realised": total / n, "scenario": scenario.name})
    return out


def _task(args: tuple[str, str, int]) -> tuple[str, str, int, Outcome]:
    name, policy, seed = args
    return name, policy, seed, run_day(SCENARIOS[name], policy, seed)


def _ci(values: list[float]) -> str:
    e = confidence_interval(values)
    return f"{e.mean:+6.1f} [{e.low:+6.1f}, {e.high:+6.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--policies", default=",".join(POLICIES))
    args = parser.parse_args()
    names = [n for n in args.scenarios.split(",") if n]
    policies = [p for p in args.policies.split(",") if p]
    for n in names:
        if n not in SCENARIOS:
            parser.error(f"--scenarios: unknown scenario {n!r} (choose from {', '.join(SCENARIOS)})")
    for p in policies:
        if p not in POLICIES:
            parser.error(f"--policies: unknown policy {p!r} (choose from {', '.join(POLICIES)})")
    started = time.monotonic()
    tasks = [(n, p, s) for n in names for s in range(args.seeds) for p in policies]
    results: dict[tuple[str, str], dict[int, Outcome]] = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for k, (n, p, s, outcome) in enumerate(pool.map(_task, tasks, chunksize=1), 1):
            results.setdefault((n, p), {})[s] = outcome
            print(f"  [{k}/{len(tasks)}] {n} {p} seed {s}: mean {outcome.mean:.1f}, p90 {outcome.p90:.1f} "
                  f"({time.monotonic() - started:.0f} s)", flush=True)  # fmt: skip
    seeds = list(range(args.seeds))
    print(f"example hall, {args.seeds} seeds, common random numbers; waits in minutes, Δ = policy − other (95% CI)")
    calibration: list[dict[str, Any]] = []
    times: list[float] = []
    for n in names:
        print(f"\n== {n} ==")
        print(f"{'policy':34} {'mean':>6} {'p90':>6}")
        for p in policies:
            rows = results[(n, p)]
            mean, p90 = np.mean([rows[s].mean for s in seeds]), np.mean([rows[s].p90 for s in seeds])
            print(f"{LABELS[p]:34} {mean:6.1f} {p90:6.1f}")
            for s in seeds:
                calibration += rows[s].calibration
                times += rows[s].decision_seconds if p == "lookahead" else []
        if "lookahead" in policies and "naive" in policies:
            la, nv = results[(n, "lookahead")], results[(n, "naive")]
            dm = [la[s].mean - nv[s].mean for s in seeds]
            dp = [la[s].p90 - nv[s].p90 for s in seeds]
            e_m, e_p = confidence_interval(dm), confidence_interval(dp)
            verdict = "met" if e_m.high < 0 and e_p.high < 0 else "NOT met"
            print(f"look-ahead − naive: mean {_ci(dm)}, p90 {_ci(dp)}   target: both significantly < 0 — {verdict}")
        if "lookahead" in policies and "fluid" in policies:
            la, fl = results[(n, "lookahead")], results[(n, "fluid")]
            print(f"look-ahead − fluid alone: mean {_ci([la[s].mean - fl[s].mean for s in seeds])}")
        if {"static", "full", "pooling"} <= set(policies):
            st, fu, po = (np.mean([results[(n, p)][s].mean for s in seeds]) for p in ("static", "full", "pooling"))
            share = (st - fu) / (st - po) if st > po else math.nan
            print(f"full skills capture {share:.0%} of the static → full-pooling gap   target ≥ 90%")
            if "chain" in policies:
                ch = np.mean([results[(n, "chain")][s].mean for s in seeds])
                print(f"two-skill chain reaches {(st - ch) / (st - fu):.0%} of what full skills reach   target ≥ 90%")
            if "lookahead" in policies:
                la_m = np.mean([results[(n, "lookahead")][s].mean for s in seeds])
                print(f"configured skills reach {(st - la_m) / (st - fu):.0%} of what full skills reach")
    if calibration:
        pred = np.asarray([c["after"] for c in calibration])
        real = np.asarray([c["realised"] for c in calibration])
        covered = np.mean([c["low"] <= c["realised"] <= c["high"] for c in calibration])
        bias = (pred.mean() - real.mean()) / real.mean()
        print(f"\ncalibration over {len(calibration)} recommendations (helped categories, over the horizon):")
        print(f"  predicted mean {pred.mean():.1f} min, realised {real.mean():.1f} min, bias {bias:+.1%}   target ±10%")
        print(f"  the 95% interval covers the realised mean in {covered:.0%}   target ≥ 90%")
        for n in names:
            sub = [c for c in calibration if c["scenario"] == n]
            if sub:
                p_ = np.mean([c["after"] for c in sub])
                r_ = np.mean([c["realised"] for c in sub])
                cov = np.mean([c["low"] <= c["realised"] <= c["high"] for c in sub])
                print(f"  {n:8} n={len(sub):3}  predicted {p_:5.1f}  realised {r_:5.1f}  covered {cov:.0%}")
    if times:
        p95 = np.percentile(times, 95)
        print(f"\nlook-ahead decision time: median {np.median(times):.2f} s, p95 {p95:.2f} s, max {max(times):.2f} s "
              f"over {len(times)} decisions (while {args.workers} bench workers ran)")  # fmt: skip
    print(f"bench wall time {time.monotonic() - started:.0f} s at {datetime.now():%H:%M}")


if __name__ == "__main__":
    main()
