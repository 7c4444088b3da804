"""Pooled staffing vs the per-category Erlang sum on the example hall (issue 13, item 3).

For each pool of windows: clerk-hours at windows when every category is staffed apart
(Erlang A per category, added up) and when the pool is staffed as one (the simulated
search of ``scheduler.staffing``), and the service each staffing really gives — measured
by the product's SimPy model on *other* seeds than the search used (out of sample):
the per-category staffing with each category served by its own clerks, the pooled
staffing with the pool's clerks serving all its categories. Also the cost of the
computation: cold (empty cache) and warm.

    PYTHONPATH=. python bench/staffing_pools.py [--day 2026-12-07] [--reps 20]
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from queue_server.config import load_config
from scheduler.staffing import SIM_REPS, Pool, simulate_pool, staffing_plan

ROOT = Path(__file__).resolve().parent.parent
CHECK_SEED = 7  # out-of-sample check: not the search's seed


def _served(levels: list[tuple[list[float], list[float], list[float]]]) -> tuple[float, float]:
    """Arrival-weighted (share called within the target, share giving up) over (level, abandon, arrivals)."""
    came = sum(a for _, _, arr in levels for a in arr)
    met = sum(lv * a for lvs, _, arr in levels for lv, a in zip(lvs, arr, strict=True))
    gone = sum(ab * a for _, abs_, arr in levels for ab, a in zip(abs_, arr, strict=True))
    return met / came, gone / came


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--day", default="2026-12-07")
    parser.add_argument("--reps", type=int, default=SIM_REPS)
    args = parser.parse_args()
    hall = load_config(ROOT / "config.yaml").halls[0]
    day = date.fromisoformat(args.day)
    t0, c0 = time.perf_counter(), time.process_time()
    plan = staffing_plan(hall, day, reps=args.reps)
    cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    staffing_plan(hall, day, reps=args.reps)
    warm = time.perf_counter() - t0
    hours = plan.interval_minutes / 60
    target = hall.targets
    print(
        f"{hall.name} {day} — target {target.service_level:.0%} within {target.within_minutes:g} min, "
        f"max abandon {target.max_abandon}; search {args.reps} reps, check {args.reps} reps on seed {CHECK_SEED}"
    )
    print(f"{'pool':<16} {'apart h':>8} {'pooled h':>9} {'saved h':>8}   {'SL apart':>9} {'SL pooled':>10}"
          f"   {'ab apart':>9} {'ab pooled':>10}")  # fmt: skip
    every_apart, every_pooled = [], []
    for need in plan.pools.values():
        counts = {c: plan.needs[c].arrivals for c in need.pool.categories}
        apart = []
        for c in need.pool.categories:
            alone = Pool(c, c, (c,), need.pool.windows)
            lv, ab = simulate_pool(hall, alone, day, {c: counts[c]}, plan.needs[c].seated, plan.interval_minutes,
                                   args.reps, CHECK_SEED)  # fmt: skip
            apart.append((lv, ab, counts[c]))
        lv, ab = simulate_pool(hall, need.pool, day, counts, need.seated, plan.interval_minutes, args.reps, CHECK_SEED)
        pooled = [(lv, ab, need.arrivals)]
        every_apart += apart
        every_pooled += pooled
        sa, aa = _served(apart)
        sp, ap = _served(pooled)
        print(
            f"{need.pool.id:<16} {sum(need.erlang_categories) * hours:>8.1f} {sum(need.seated) * hours:>9.1f} "
            f"{need.saved_hours(plan.interval_minutes):>8.1f}   {sa:>9.1%} {sp:>10.1%}   {aa:>9.1%} {ap:>10.1%}"
        )
    sa, aa = _served(every_apart)
    sp, ap = _served(every_pooled)
    apart_h, pooled_h = sum(plan.total_seated()) * hours, sum(plan.pooled_seated()) * hours
    print(
        f"{'hall':<16} {apart_h:>8.1f} {pooled_h:>9.1f} {apart_h - pooled_h:>8.1f}   {sa:>9.1%} {sp:>10.1%}"
        f"   {aa:>9.1%} {ap:>10.1%}"
    )
    print(f"staffing_plan: cold {cold:.1f} s wall ({cold_cpu:.1f} s CPU), warm (cached) {warm * 1000:.0f} ms")


if __name__ == "__main__":
    main()
