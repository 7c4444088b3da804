"""Staffing needs: Erlang C against published figures, Erlang A against a SimPy run, lag, shrinkage."""

from __future__ import annotations

import json
import math
import random
from datetime import date

import pytest
import simpy

from scheduler.staffing import (
    clerks_needed,
    erlang_a,
    erlang_c,
    erlang_c_mean_wait,
    erlang_c_service_level,
    lagged_offered_load,
    staffing_plan,
    with_shrinkage,
)


def test_erlang_c_reproduces_the_call_centre_helper_example():
    """Call Centre Helper, "Erlang C Formula – Made Simple With an Easy Worked Example":
    100 calls in 30 minutes, average handling time 180 s, target 80% answered in 20 s.
    Published: traffic intensity 10 Erlangs; 14 agents needed (probability of waiting
    17.4%, service level 88.8%, average speed of answer about 8 s); with 30% shrinkage
    the site plans 14 / 0.7 = 20 agents.
    """
    rate, aht = 100 / 1800, 180.0  # per second, seconds
    assert clerks_needed(rate, aht, 0.80, 20) == 14
    assert erlang_c(14, 10.0) == pytest.approx(0.174, abs=0.0005)
    assert erlang_c_service_level(14, rate, aht, 20) == pytest.approx(0.888, abs=0.001)
    assert erlang_c_mean_wait(14, rate, aht) == pytest.approx(7.8, abs=0.3)
    assert erlang_c_service_level(13, rate, aht, 20) < 0.80  # 13 agents miss the target
    assert with_shrinkage(14, 0.30) == 20


def test_erlang_c_reproduces_the_westbay_worked_example():
    """Westbay Engineers, "The Erlang-C formula" (erlang.com): 360 calls per half hour,
    4-minute calls, 55 agents, 15-second target. Published: traffic 48 Erlangs, occupancy
    87.3%, probability of waiting 23.87%, average speed of answer 8.18 s, service level
    84.6% answered within 15 s.
    """
    rate, aht = 360 / 1800, 240.0
    assert rate * aht == pytest.approx(48.0)
    assert erlang_c(55, 48.0) == pytest.approx(0.2387, abs=0.0002)
    assert erlang_c_mean_wait(55, rate, aht) == pytest.approx(8.18, abs=0.01)
    assert erlang_c_service_level(55, rate, aht, 15) == pytest.approx(0.846, abs=0.001)


def test_erlang_a_becomes_erlang_c_as_patience_grows():
    rate, aht = 100 / 1800, 180.0
    a = erlang_a(14, rate, aht, mean_patience=1e7)
    assert a.prob_wait == pytest.approx(erlang_c(14, 10.0), rel=1e-4)
    assert a.service_level(20) == pytest.approx(erlang_c_service_level(14, rate, aht, 20), abs=1e-4)
    assert a.prob_abandon < 1e-5


def _simulate_mmn_m(n: int, rate: float, mean_service: float, mean_patience: float, seed: int):
    """An M/M/n+M queue in SimPy: returns (share who had to wait, share who gave up)."""
    rng = random.Random(seed)
    env = simpy.Environment()
    clerks = simpy.Resource(env, capacity=n)
    stats = {"arrived": 0, "waited": 0, "abandoned": 0}
    horizon = 60_000.0

    def citizen(env: simpy.Environment):
        stats["arrived"] += 1
        with clerks.request() as req:
            if not req.triggered:
                stats["waited"] += 1
            result = yield req | env.timeout(rng.expovariate(1 / mean_patience))
            if req in result:
                yield env.timeout(rng.expovariate(1 / mean_service))
            else:
                stats["abandoned"] += 1

    def source(env: simpy.Environment):
        while env.now < horizon:
            yield env.timeout(rng.expovariate(rate))
            env.process(citizen(env))

    env.process(source(env))
    env.run(until=horizon)
    return stats["waited"] / stats["arrived"], stats["abandoned"] / stats["arrived"]


def test_erlang_a_matches_a_simpy_run_of_the_same_queue():
    """Cross-check: a hall category with 4 clerks, 10-minute services, 36 citizens an hour
    (6 Erlangs offered, so an Erlang C queue would grow without end) and 20-minute mean
    patience. The exact chain and a 60,000-minute SimPy run (fixed seed) agree."""
    n, rate, s, patience = 4, 0.6, 10.0, 20.0
    model = erlang_a(n, rate, s, patience)
    waited, abandoned = _simulate_mmn_m(n, rate, s, patience, seed=7)
    assert model.prob_wait == pytest.approx(waited, abs=0.02)
    assert model.prob_abandon == pytest.approx(abandoned, abs=0.02)
    assert 0.2 < model.prob_abandon < 0.5  # a real overload: many give up


def test_more_patience_or_a_longer_target_changes_the_need_the_right_way():
    rate, s = 0.5, 10.0  # 30 an hour, 10-minute services: 5 Erlangs
    c = clerks_needed(rate, s, 0.8, 10)
    assert c >= 6
    assert clerks_needed(rate, s, 0.8, 10, mean_patience=15) <= c
    assert clerks_needed(rate, s, 0.8, 30) <= c
    assert clerks_needed(rate, s, 0.95, 10) >= c
    assert clerks_needed(0.0, s, 0.8, 10) == 0


def test_lag_correction_keeps_clerks_after_a_rush():
    """Arrivals jump for one interval and drop: the load peaks later and stays up just after."""
    rates = [0.2, 0.2, 1.2, 0.2, 0.2]
    load = lagged_offered_load(rates, 15, 20.0)
    stationary = [r * 20.0 for r in rates]
    assert load[2] < stationary[2]  # the queue has not built up yet
    assert load[3] > stationary[3]  # the rush is still being worked off
    assert max(range(5), key=lambda i: load[i]) in (2, 3)
    flat = lagged_offered_load([0.5] * 40, 15, 10.0)
    assert flat[-1] == pytest.approx(5.0, rel=1e-3)  # settles to λS


def test_staffing_plan_for_the_example_hall(example_hall):
    monday, saturday = date(2026, 12, 7), date(2026, 12, 12)
    plan = staffing_plan(example_hall, monday, 15)
    assert len(plan.starts) == 32 and plan.interval_minutes == 15
    lunch = [i for i, s in enumerate(plan.starts) if s.hour == 12 or (s.hour == 13 and s.minute < 30)]
    assert lunch and all(not plan.open[i] for i in lunch)
    assert all(plan.total_seated()[i] == 0 for i in lunch)
    tax = plan.needs["tax"]
    assert tax.model == "erlang_a"  # the example gives patience
    assert max(tax.seated) > max(plan.needs["transport"].seated)  # tax is the busiest category
    # arrivals add up to the configured day volume times Monday's factor
    assert sum(tax.arrivals) == pytest.approx(120 * 1.3)
    assert all(r >= s for r, s in zip(tax.scheduled, tax.seated, strict=True))
    # patience lowers the need (without the cap on giving up, which raises it again)
    free = example_hall.model_copy(update={"targets": example_hall.targets.model_copy(update={"max_abandon": None})})
    c_plan = staffing_plan(free, monday, 15, model="erlang_c", lag=False, pooled=False)
    a_plan = staffing_plan(free, monday, 15, pooled=False)
    assert sum(c_plan.total_seated()) >= sum(a_plan.total_seated())
    assert sum(plan.total_seated()) > sum(a_plan.total_seated())
    as_json = json.loads(json.dumps(plan.as_dict()))
    assert as_json["categories"]["tax"]["seated"] == tax.seated and as_json["intervals"][0] == "09:00"
    closed = staffing_plan(example_hall, saturday, 15)
    assert not any(closed.open) and sum(closed.total_seated()) == 0


def test_shrinkage_rejects_nonsense():
    with pytest.raises(ValueError):
        with_shrinkage(3, 1.0)
    assert with_shrinkage(0, 0.3) == 0
    assert math.isclose(with_shrinkage(17, 0.15), 20)
