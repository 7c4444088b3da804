"""Customers simulated per second: our hall model against Ciw 3.2.7, same scenarios, one run.

Scenarios (minutes): M/M/3 with λ = 24/h, mean service 6 min (ρ = 0.8); and Erlang A
— M/M/3+M with λ = 30/h, service 6 min, mean patience 10 min (ρ = 1.0). Each
replication is a 23-hour day (~550–690 customers); both simulators run the same
number of replications and return per-customer records. The figure is customers
per second of wall time (best of three rounds, alternating between the two), and each simulator's mean wait is
printed beside the exact value so that speed is not bought with wrong answers.

    PYTHONPATH=. python bench/sim_vs_ciw.py [--reps 60]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import ciw
import numpy as np

from simulation.model import HallDay, HallPlan
from simulation.roster import default_shifts
from simulation.scenarios import single_queue_hall
from simulation.theory import erlang_a, erlang_c

DAY = date(2026, 11, 23)
HOURS = 23


def ours(lam_h: float, servers: int, patience: float | None, reps: int) -> tuple[int, float, float]:
    hall = single_queue_hall(arrivals_per_hour=lam_h, service_minutes=6, servers=servers, patience_minutes=patience)
    plan = HallPlan.of(hall)
    shifts = default_shifts(hall, DAY)
    n, waits = 0, []
    t0 = time.perf_counter()
    for r in range(reps):
        res = HallDay(plan, DAY, np.random.default_rng(r), shifts, track=False).run()
        s = res.steps
        n += len(s["outcome"])
        end = np.where(np.isnan(s["called"]), s["left"], s["called"])
        waits.append(float((end - s["queued"]).mean()))
    return n, time.perf_counter() - t0, float(np.mean(waits))


def ciw_run(lam_h: float, servers: int, patience: float | None, reps: int) -> tuple[int, float, float]:
    params: dict = {
        "arrival_distributions": [ciw.dists.Exponential(lam_h / 60)],
        "service_distributions": [ciw.dists.Exponential(1 / 6)],
        "number_of_servers": [servers],
    }
    if patience:
        params["reneging_time_distributions"] = [ciw.dists.Exponential(1 / patience)]
    network = ciw.create_network(**params)
    n, waits = 0, []
    t0 = time.perf_counter()
    for r in range(reps):
        ciw.seed(r)
        sim = ciw.Simulation(network)
        sim.simulate_until_max_time(HOURS * 60)
        recs = sim.get_all_records()
        n += len(recs)
        waits.append(
            float(
                np.mean([x.waiting_time if x.record_type == "service" else x.exit_date - x.arrival_date for x in recs])
            )
        )
    return n, time.perf_counter() - t0, float(np.mean(waits))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    scenarios = [
        ("M/M/3 (Erlang C), rho=0.8", 24.0, 3, None, erlang_c(24 / 60, 1 / 6, 3)[1]),
        ("M/M/3+M (Erlang A), rho=1.0", 30.0, 3, 10.0, erlang_a(30 / 60, 1 / 6, 3, 1 / 10)[0]),
    ]
    print(
        f"{'scenario':32} {'simulator':8} {'customers':>10} {'seconds':>8} {'customers/s':>12} "
        f"{'mean wait':>10} {'exact':>7}"
    )
    ratios = []
    for name, lam, c, pat, exact in scenarios:
        rates = {}
        best: dict[str, tuple[int, float, float]] = {}
        for _ in range(args.rounds):  # rounds alternate between the two, so load from elsewhere hits both
            for label, fn in (("hallq", ours), ("Ciw", ciw_run)):
                n, sec, wait = fn(lam, c, pat, args.reps)
                if label not in best or sec < best[label][1]:
                    best[label] = (n, sec, wait)
        for label in ("hallq", "Ciw"):
            n, sec, wait = best[label]
            rates[label] = n / sec
            print(f"{name:32} {label:8} {n:>10} {sec:>8.2f} {n / sec:>12,.0f} {wait:>10.3f} {exact:>7.3f}")
        ratios.append(rates["hallq"] / rates["Ciw"])
        print(f"{'':32} {'ratio':8} {'':>10} {'':>8} {rates['hallq'] / rates['Ciw']:>11.1f}x")
    print(f"target: >= 2x Ciw on both -> {'MET' if min(ratios) >= 2 else 'NOT MET'} (min {min(ratios):.1f}x)")


if __name__ == "__main__":
    main()
