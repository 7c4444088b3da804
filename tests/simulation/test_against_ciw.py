"""The model against Ciw (an independent simulator; test-only dependency ``ciw==3.2.7``).

A scenario both can express: one category, two priority classes (25% served first,
non-preemptive), arrivals varying hour by hour, exponential service, exponential
patience (reneging), and a server schedule — 3 windows, a 4th from 12:00 to 15:00,
servers finishing their current citizen when their shift ends. Arrivals stop at
17:00; the three windows stay until 20:00 so both simulators drain the queue.

For each figure the two sets of replications must agree statistically: Welch's
t-test does not reject equality at the 0.1% level. So that this is not toothless,
the standard error of the difference must be under 10% of the figure (a 10%
modelling difference would be caught). Both are replications of the same
stochastic system, so this fails only when one simulator models something
differently (300 replications each agree to within 2 standard errors on every
figure).
"""

from __future__ import annotations

from datetime import date, time

import ciw
import numpy as np
from scipy import stats

from simulation.model import ABANDONED, SERVED
from simulation.replications import simulate_replication
from simulation.roster import Roster, Shift
from simulation.scenarios import single_queue_hall

RATES = [20, 30, 36, 30, 24, 30, 26, 16]  # per hour, 09:00-17:00
SHARE = 0.25
SERVICE, PATIENCE = 6.0, 15.0
REPS = 60
DAY = date(2026, 11, 23)


def _ours() -> dict[str, list[float]]:
    hall = single_queue_hall(
        arrivals_per_hour=RATES,
        service_minutes=SERVICE,
        servers=4,
        patience_minutes=PATIENCE,
        priority_share=SHARE,
        open_at="09:00",
        close_at="17:00",
    )
    roster = Roster(
        (*(Shift(f"k{i}", DAY, time(9), time(20), i) for i in (1, 2, 3)), Shift("k4", DAY, time(12), time(15), 4))
    )
    out: dict[str, list[float]] = {"wait_high": [], "wait_low": [], "abandon": []}
    for rep in range(REPS):
        s = simulate_replication(hall, [DAY], seed=31, rep=rep, roster=roster)[0].steps
        served = s["outcome"] == SERVED
        w = s["called"] - s["queued"]
        out["wait_high"].append(float(w[served & (s["group"] == 0)].mean()))
        out["wait_low"].append(float(w[served & (s["group"] == -1)].mean()))
        out["abandon"].append(float((s["outcome"] == ABANDONED).mean()))
    return out


def _ciw() -> dict[str, list[float]]:
    ends = [60.0 * (i + 1) for i in range(len(RATES))]

    def arrivals(share: float) -> list[ciw.dists.Distribution]:
        return [ciw.dists.PoissonIntervals([share * r / 60 for r in RATES], ends, max_sample_date=480.0)]

    out: dict[str, list[float]] = {"wait_high": [], "wait_low": [], "abandon": []}
    for rep in range(REPS):
        network = ciw.create_network(
            arrival_distributions={"Class 0": arrivals(SHARE), "Class 1": arrivals(1 - SHARE)},
            service_distributions={c: [ciw.dists.Exponential(1 / SERVICE)] for c in ("Class 0", "Class 1")},
            reneging_time_distributions={c: [ciw.dists.Exponential(1 / PATIENCE)] for c in ("Class 0", "Class 1")},
            number_of_servers=[ciw.Schedule(numbers_of_servers=[3, 4, 3], shift_end_dates=[180.0, 360.0, 660.0])],
            priority_classes={"Class 0": 0, "Class 1": 1},
        )
        ciw.seed(1000 + rep)
        sim = ciw.Simulation(network)
        sim.simulate_until_max_time(659.0)
        recs = sim.get_all_records()
        served = [r for r in recs if r.record_type == "service"]
        reneged = [r for r in recs if r.record_type == "renege"]
        out["wait_high"].append(float(np.mean([r.waiting_time for r in served if r.customer_class == "Class 0"])))
        out["wait_low"].append(float(np.mean([r.waiting_time for r in served if r.customer_class == "Class 1"])))
        out["abandon"].append(len(reneged) / (len(served) + len(reneged)))
    return out


def test_agrees_with_ciw_on_a_scheduled_priority_hall_with_reneging():
    ours, theirs = _ours(), _ciw()
    for key in ("wait_high", "wait_low", "abandon"):
        a, b = np.asarray(ours[key]), np.asarray(theirs[key])
        p = stats.ttest_ind(a, b, equal_var=False).pvalue
        assert p > 0.001, f"{key}: ours {a.mean():.3f} vs Ciw {b.mean():.3f} (p={p:.2g})"
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert se < 0.1 * b.mean(), f"{key}: too noisy to compare (se {se:.3f})"
    # the scenario is not trivial: priority matters and people do give up
    assert np.mean(theirs["wait_high"]) < 0.75 * np.mean(theirs["wait_low"])
    assert np.mean(theirs["abandon"]) > 0.05
