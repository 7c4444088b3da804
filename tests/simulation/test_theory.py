"""The model against exact queueing results: Erlang C, Erlang A, Cobham's priority classes, Little's law.

Each scenario is a one-category hall open 00:00–23:00 with exponential service (and
patience); every replication is one day, tickets that join the queue in the first two
hours (warm-up) and the last hour are left out. A replication's mean is one
observation; the assertion is that the interval over replications covers the exact
value. We check the 99% interval so that a change of seed or of the order of random
draws does not turn a correct model red by chance (a 95% interval misses one time in
twenty); the 95% intervals are printed by ``bench/sim_theory.py``.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from simulation.kpis import confidence_interval
from simulation.model import ABANDONED
from simulation.replications import simulate_replication
from simulation.scenarios import single_queue_hall
from simulation.theory import cobham, erlang_a, erlang_c

DAY = [date(2026, 11, 23)]
WARM, COOL = 120.0, 22 * 60.0


def _window(steps: dict[str, np.ndarray]) -> np.ndarray:
    return (steps["queued"] >= WARM) & (steps["queued"] < COOL)


def _queue_time(steps: dict[str, np.ndarray]) -> np.ndarray:
    """Time in queue of every ticket: until the call, or until giving up."""
    end = np.where(np.isnan(steps["called"]), steps["left"], steps["called"])
    return end - steps["queued"]


def _covers(values: list[float], exact: float) -> None:
    est = confidence_interval(values, level=0.99)
    assert est.low <= exact <= est.high, f"99% CI [{est.low:.3f}, {est.high:.3f}] misses exact {exact:.3f}"
    # and the estimate is tight enough to mean something
    assert est.high - est.low < 0.35 * exact


def test_erlang_c_mean_wait_and_probability_of_waiting():
    hall = single_queue_hall(arrivals_per_hour=21, service_minutes=6, servers=3)  # rho = 0.7
    p_wait, wq = erlang_c(21 / 60, 1 / 6, 3)
    waits, delayed = [], []
    for rep in range(80):
        s = simulate_replication(hall, DAY, seed=11, rep=rep)[0].steps
        m = _window(s)
        w = (s["called"] - s["queued"])[m]
        waits.append(float(w.mean()))
        delayed.append(float((w > 1e-9).mean()))
    _covers(waits, wq)
    _covers(delayed, p_wait)


def test_erlang_a_wait_and_abandonment():
    # rho = 1.0 without abandonment: only patience keeps this queue stable.
    hall = single_queue_hall(arrivals_per_hour=30, service_minutes=6, servers=3, patience_minutes=10)
    wq, p_ab = erlang_a(30 / 60, 1 / 6, 3, 1 / 10)
    waits, abandon = [], []
    for rep in range(60):
        s = simulate_replication(hall, DAY, seed=12, rep=rep)[0].steps
        m = _window(s)
        waits.append(float(_queue_time(s)[m].mean()))
        abandon.append(float((s["outcome"][m] == ABANDONED).mean()))
    _covers(waits, wq)
    _covers(abandon, p_ab)


def test_cobham_priority_classes():
    # 30% of citizens in a priority group, served first (strict priority, non-preemptive).
    hall = single_queue_hall(arrivals_per_hour=22, service_minutes=6, servers=3, priority_share=0.3)
    lam = 22 / 60
    w_high, w_low = cobham([0.3 * lam, 0.7 * lam], 1 / 6, 3)
    high, low = [], []
    for rep in range(80):
        s = simulate_replication(hall, DAY, seed=13, rep=rep)[0].steps
        m = _window(s)
        w = s["called"] - s["queued"]
        high.append(float(w[m & (s["group"] == 0)].mean()))
        low.append(float(w[m & (s["group"] == -1)].mean()))
    _covers(high, w_high)
    _covers(low, w_low)
    assert np.mean(high) < np.mean(low) / 2


def test_littles_law_holds_on_every_day_including_abandonment():
    """Time-average queue length (kept live by the model) = arrival rate x mean time in queue.

    Over a whole day, with everybody gone by the end, this holds exactly on each sample
    path; it checks that the model's running count and its per-ticket records agree,
    abandonments included. Then the time-average itself is compared with Erlang A's L_q.
    """
    hall = single_queue_hall(arrivals_per_hour=30, service_minutes=6, servers=3, patience_minutes=10)
    wq, _ = erlang_a(30 / 60, 1 / 6, 3, 1 / 10)
    lengths = []
    for rep in range(20):
        day = simulate_replication(hall, DAY, seed=14, rep=rep)[0]
        s = day.steps
        span = day.end_min - day.open_min
        lam = len(s["queued"]) / span
        little = lam * float(_queue_time(s).mean())
        assert abs(day.wait_area / span - little) < 1e-6 * max(little, 1)
        lengths.append(day.wait_area / span)
    # L_q = lambda W_q; the day includes the empty start and the drained end, so only roughly.
    assert abs(np.mean(lengths) - 0.5 * wq * 23 * 60 / (23 * 60 + 10)) < 0.15 * 0.5 * wq
