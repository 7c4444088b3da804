"""NSP benchmark instances (Curtois & Qu, schedulingbenchmarks.org) solved by ``hallq roster --nsp``'s model.

The published instances are not in the repository: give their paths.

    PYTHONPATH=. python bench/roster_nsp.py /path/to/Instance1.txt [more …] [--workers 1 2] [--time-limit 60]

Prints per instance and worker count: status, objective, bound, time to the first
solution, time to the end of the solve (the proof when OPTIMAL), and the benchmark's
soft terms.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scheduler.nsp import read_nsp, solve_nsp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("instances", nargs="+", help="instance files in the benchmark's text format")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(
        f"{'instance':<14} {'workers':>7} {'status':<9} {'objective':>9} {'bound':>7} {'first s':>8} {'end s':>7}"
        "  terms"
    )
    for path in args.instances:
        inst = read_nsp(path)
        for workers in args.workers:
            r = solve_nsp(inst, time_limit=args.time_limit, workers=workers, seed=args.seed)
            terms = ", ".join(f"{k}={v}" for k, v in r.penalties.items())
            print(
                f"{Path(path).stem:<14} {workers:>7} {r.status:<9} {r.objective:>9} {r.bound:>7} "
                f"{r.first_solution_seconds or 0:>8.2f} {r.wall_seconds:>7.2f}  {terms}"
                + (f"  HARD VIOLATIONS {len(r.violations)}" if r.violations else "")
            )


if __name__ == "__main__":
    main()
