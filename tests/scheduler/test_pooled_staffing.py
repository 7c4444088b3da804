"""Pooled staffing: windows that serve the same categories are sized as one pool, by the
product's simulation, with an abandonment cap; the roster covers the pools' needs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from queue_server.config import Hall, parse_config
from queue_server.errors import ConfigError
from scheduler.roster import RosterOptions, build_roster
from scheduler.staffing import clerks_needed, erlang_a, hall_pools, simulate_pool, staffing_plan

from .conftest import small_hall_doc

MONDAY = date(2026, 12, 7)


def _two_category_hall(**targets: Any) -> Hall:
    """Two light categories behind one comprehensive class of six windows, 09:00–11:00."""
    doc = small_hall_doc(
        hours={"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "11:00"},
        demand={"interval_minutes": 30, "shape": [1, 1, 1, 1]},
        targets={"service_level": 0.8, "within_minutes": 10} | targets,
        categories=[
            {"id": "biz", "prefix": "A", "name": "企业开办", "zone": "za", "patience_minutes": 20,
             "service_time": {"distribution": "exponential", "mean": 12}, "arrivals_per_day": 20},
            {"id": "social", "prefix": "E", "name": "社会事务", "zone": "za", "patience_minutes": 20,
             "service_time": {"distribution": "exponential", "mean": 12}, "arrivals_per_day": 20},
        ],
        window_classes=[{"id": "comp", "kind": "comprehensive", "name": "综合窗口", "categories": ["biz", "social"]}],
        windows=[{"number": n, "zone": "za", "class": "comp"} for n in range(1, 7)],
        clerks=[{"id": f"k{n}", "name": f"窗口员{n}", "skills": {"biz": 1.0, "social": 1.0}} for n in range(1, 7)],
    )  # fmt: skip
    return parse_config(doc).halls[0]


def test_a_comprehensive_pool_needs_fewer_clerks_than_its_categories_apart():
    # 20 citizens of each category in 2 hours, 12 minutes each: 2 Erlangs per category. Apart,
    # each category keeps clerks for its own random peaks; one pool shares them.
    hall = _two_category_hall()
    plan = staffing_plan(hall, MONDAY, 15)
    (pool,) = plan.pools.values()
    assert pool.pool.categories == ("biz", "social") and pool.pool.windows == (1, 2, 3, 4, 5, 6)
    assert pool.erlang_categories == [plan.needs["biz"].seated[i] + plan.needs["social"].seated[i] for i in range(8)]
    assert sum(pool.seated) < sum(pool.erlang_categories)
    assert pool.saved_hours(15) > 0
    # the simulated service meets the target in every interval with clerks …
    assert all(sl >= 0.8 for sl, n in zip(pool.service_level, pool.seated, strict=True) if n)
    # … and with one clerk fewer in every interval it misses the target (the pool is not oversized)
    counts = {c: plan.needs[c].arrivals for c in pool.pool.categories}
    level, _ = simulate_pool(hall, pool.pool, MONDAY, counts, [n - 1 for n in pool.seated], 15)
    assert min(level) < 0.8


def test_the_abandonment_cap_adds_clerks_until_few_enough_give_up():
    # the case: Erlang A accepts 8 clerks on 10 Erlangs with a fifth giving up
    rate, service, patience = 1.0, 10.0, 3.0
    loose = clerks_needed(rate, service, 0.5, 10, patience)
    assert erlang_a(loose, rate, service, patience).prob_abandon > 0.05
    capped = clerks_needed(rate, service, 0.5, 10, patience, max_abandon=0.05)
    assert capped > loose
    assert erlang_a(capped, rate, service, patience).prob_abandon <= 0.05
    assert erlang_a(capped - 1, rate, service, patience).prob_abandon > 0.05
    # the simulated pool honours the hall's cap too, and shows P(abandon) for every interval
    doc = {"service_level": 0.5}
    free = staffing_plan(_two_category_hall(**doc), MONDAY, 15).pools["comp"]
    cap = staffing_plan(_two_category_hall(**doc, max_abandon=0.02), MONDAY, 15).pools["comp"]
    assert max(free.abandon) > 0.02
    assert all(a <= 0.02 for a, n in zip(cap.abandon, cap.seated, strict=True) if n)
    assert sum(cap.seated) > sum(free.seated)


def test_a_category_served_by_several_classes_belongs_to_the_class_with_most_windows(example_hall):
    pools = {p.id: p for p in hall_pools(example_hall)}
    # 企业开办 is served by 商事登记 (3 windows) and 全科 (2): its demand goes to 商事登记;
    # 全科 is nobody's home, so its windows are spare seats, as is the exit-entry-only window 15
    assert pools["comp-business"].categories == ("business-setup", "business-change")
    assert "comp-all" not in pools
    assert pools["spec-police"].categories == ("household", "exit-entry")
    assert pools["spec-police"].windows == (13, 14)
    homes = [c for p in pools.values() for c in p.categories]
    assert sorted(homes) == sorted(example_hall.category_ids())  # every category in exactly one pool


def test_the_roster_covers_pool_needs_with_clerks_skilled_for_the_whole_pool(small_hall):
    # the small hall's comprehensive class serves biz and social; only k1 has both skills
    plan = staffing_plan(small_hall, MONDAY, 15)
    roster = build_roster(small_hall, MONDAY, RosterOptions(time_limit=3, workers=1, deterministic=True))
    cells = [c for c in roster.coverage if c.day == MONDAY]
    assert {c.pool for c in cells} == {"comp", "taxw"}
    starts = plan.starts
    for c in cells:
        assert c.need == plan.pools[c.pool].scheduled[starts.index(c.start)]
    whole = {"comp": {"k1"}, "taxw": {"k2", "k3", "k4"}}
    for c in cells:
        seated = [
            a.clerk for a in roster.assignments if a.day == MONDAY
            for s in a.slots if s.start == c.start and s.activity == "serve"
            and s.category in small_hall.window_class(c.pool).categories
        ]  # fmt: skip
        assert c.planned == sum(1 for k in seated if k in whole[c.pool])
    assert roster.under_cover() == sum(max(0, c.need - c.planned) for c in roster.coverage)
    assert any(c.pool == "comp" and c.need > 0 for c in cells)


def test_a_nonsense_abandonment_cap_is_refused_with_its_field_named():
    with pytest.raises(ConfigError) as err:
        _two_category_hall(max_abandon=1.5)
    assert "targets.max_abandon" in str(err.value)
