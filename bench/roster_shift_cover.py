"""One-day shift scheduling, side by side: hallq's set-covering model and pyworkforce.

The case (synthetic, built here): a day of 20 half-hour periods (08:00–18:00), full-time
shifts of 16 periods starting at 08:00 … 10:00 and part-time shifts of 8 periods starting
at 08:00 … 14:00, and the need per period below. Three questions, each solved by both:

- fewest heads covering every period (pyworkforce ``MinRequiredResources``, cost 1);
- fewest paid half-hours covering every period (``MinRequiredResources``, cost = length);
- smallest total deviation |cover − need| (``MinAbsDifference``).

    PYTHONPATH=. python bench/roster_shift_cover.py [--workers 1]

Needs ``pip install pyworkforce`` (a bench-only dependency; see pyproject's ``test`` extra).
"""

from __future__ import annotations

import argparse
import time

from scheduler.shift_cover import cover_shifts

NEED = [2, 3, 4, 5, 6, 7, 7, 6, 5, 5, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2]
PERIODS = len(NEED)


def shifts() -> dict[str, list[int]]:
    out = {}
    for start in range(0, 5):
        out[f"FT{start:02d}"] = [int(start <= t < start + 16) for t in range(PERIODS)]
    for start in range(0, 13):
        out[f"PT{start:02d}"] = [int(start <= t < start + 8) for t in range(PERIODS)]
    return out


def pyworkforce_solve(kind: str, workers: int) -> tuple[str, float, float]:
    from pyworkforce.scheduling import MinAbsDifference, MinRequiredResources

    cover = shifts()
    common = dict(num_days=1, periods=PERIODS, shifts_coverage=cover, required_resources=[NEED],
                  max_period_concurrency=100, max_shift_concurrency=100, num_search_workers=workers)  # fmt: skip
    started = time.monotonic()
    if kind == "deviation":
        solver = MinAbsDifference(**common, max_search_time=60.0)
    else:
        cost = {s: 1 if kind == "heads" else sum(row) for s, row in cover.items()}
        solver = MinRequiredResources(**common, cost_dict=cost, max_search_time=60.0)
    result = solver.solve()
    return str(result["status"]), float(result["cost"]), time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    print(f"{'objective':<10} {'hallq status':<12} {'value':>6} {'bound':>6} {'s':>6}   "
          f"{'pyworkforce status':<18} {'value':>6} {'s':>6}")  # fmt: skip
    for kind in ("heads", "paid", "deviation"):
        ours = cover_shifts(NEED, shifts(), kind, workers=args.workers)
        status, value, seconds = pyworkforce_solve(kind, args.workers)
        print(f"{kind:<10} {ours.status:<12} {ours.objective:>6} {ours.bound:>6} {ours.wall_seconds:>6.3f}   "
              f"{status:<18} {value:>6.0f} {seconds:>6.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
