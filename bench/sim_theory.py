"""The model against exact queueing results, with 95% confidence intervals over replications.

Same scenarios as tests/simulation/test_theory.py (one-category hall open 00:00–23:00,
exponential service of 6 minutes, 3 windows; tickets joining between 02:00 and 22:00),
with more replications, printed side by side with the exact value.

    PYTHONPATH=. python bench/sim_theory.py [--reps 200]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from queue_server.config import Hall
from simulation.kpis import confidence_interval
from simulation.model import ABANDONED
from simulation.replications import simulate_replication
from simulation.scenarios import single_queue_hall
from simulation.theory import cobham, erlang_a, erlang_c

DAY = [date(2026, 11, 23)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    rows = []

    def run(hall: Hall, seed: int, measure: Callable[[dict[str, np.ndarray], np.ndarray], Any]) -> np.ndarray:
        vals = []
        for rep in range(args.reps):
            s = simulate_replication(hall, DAY, seed, rep)[0].steps
            m = (s["queued"] >= 120) & (s["queued"] < 22 * 60)
            vals.append(measure(s, m))
        return np.asarray(vals)

    def qtime(s: dict[str, np.ndarray]) -> np.ndarray:
        return np.where(np.isnan(s["called"]), s["left"], s["called"]) - s["queued"]

    h = single_queue_hall(arrivals_per_hour=21, service_minutes=6, servers=3)
    p, w = erlang_c(21 / 60, 1 / 6, 3)
    v = run(h, 11, lambda s, m: ((s["called"] - s["queued"])[m].mean(), ((s["called"] - s["queued"])[m] > 1e-9).mean()))
    rows += [("Erlang C  M/M/3 rho=0.7  mean wait", v[:, 0], w), ("Erlang C  P(wait>0)", v[:, 1], p)]
    h = single_queue_hall(arrivals_per_hour=30, service_minutes=6, servers=3, patience_minutes=10)
    w, pa = erlang_a(30 / 60, 1 / 6, 3, 1 / 10)
    v = run(h, 12, lambda s, m: (qtime(s)[m].mean(), (s["outcome"][m] == ABANDONED).mean()))
    rows += [("Erlang A  M/M/3+M rho=1  mean wait", v[:, 0], w), ("Erlang A  P(abandon)", v[:, 1], pa)]
    h = single_queue_hall(arrivals_per_hour=22, service_minutes=6, servers=3, priority_share=0.3)
    hi, lo = cobham([0.3 * 22 / 60, 0.7 * 22 / 60], 1 / 6, 3)
    w_ = lambda s: s["called"] - s["queued"]  # noqa: E731
    v = run(h, 13, lambda s, m: (w_(s)[m & (s["group"] == 0)].mean(), w_(s)[m & (s["group"] == -1)].mean()))
    rows += [("Cobham  priority class wait", v[:, 0], hi), ("Cobham  ordinary class wait", v[:, 1], lo)]
    print(f"{'figure':38} {'exact':>8} {'simulated mean':>15} {'95% CI':>20} covers")
    for name, vals, exact in rows:
        e = confidence_interval(vals)
        print(
            f"{name:38} {exact:>8.4f} {e.mean:>15.4f} {f'[{e.low:.4f}, {e.high:.4f}]':>20} "
            f"{'yes' if e.low <= exact <= e.high else 'NO'}"
        )
    print(f"({args.reps} replications of one day each)")


if __name__ == "__main__":
    main()
