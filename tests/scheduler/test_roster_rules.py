"""The roster model keeps the cross-day rules real rosters have, and names the ones a contract cannot meet."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
import yaml

from queue_server.cli import main
from queue_server.config import parse_config
from queue_server.errors import ConfigError
from scheduler.export import write_roster
from scheduler.roster import RosterInfeasible, RosterOptions, build_roster
from scheduler.roster_check import check_files
from scheduler.staffing import staffing_plan

from .conftest import make_hall, small_hall_doc
from .test_roster_check import seven_day_doc

WEEK = date(2026, 12, 7)  # a Monday
FAST = RosterOptions(time_limit=3, workers=1)


def test_the_model_keeps_every_cross_day_rule_and_the_check_agrees(tmp_path):
    doc = seven_day_doc(max_consecutive_days=3, min_consecutive_days_off=2, max_shifts={"morning": 2})
    doc["roster"]["forbidden_successions"] = [["late", "early"]]
    doc["clerks"][1] |= {"max_weekends": 0}
    doc["clerks"][2] |= {"requests": [{"day": "2026-12-09", "shift": "late", "kind": "off", "weight": 500}]}
    doc["clerks"][3] |= {"requests": [{"day": "2026-12-08", "shift": "late", "kind": "on", "weight": 1000}]}
    hall = make_hall(**doc)
    roster = build_roster(hall, WEEK, FAST)
    write_roster(hall, roster, tmp_path)
    result = check_files(hall, tmp_path / "roster.csv")
    assert result.violations == [] and result.request_penalty == (0, 0)  # both requests granted
    k1 = sorted(a.day for a in roster.for_clerk("k1"))
    assert k1 and sum(a.shift == "morning" for a in roster.for_clerk("k1")) <= 2
    assert all(a.day.weekday() < 5 for a in roster.for_clerk("k2"))  # 李四 works no weekend
    assert all(a.day != date(2026, 12, 9) or a.shift != "late" for a in roster.for_clerk("k3"))
    assert any(a.day == date(2026, 12, 8) and a.shift == "late" for a in roster.for_clerk("k4"))
    by_day = {(a.clerk, a.day): a.shift for a in roster.assignments}
    for (clerk, day), shift in by_day.items():
        if shift == "late":
            assert by_day.get((clerk, day + timedelta(days=1))) != "early"


def test_a_contract_its_rules_make_impossible_is_named():
    # at most 2 days in a row, then at least 2 days off: 4 mornings (13 h) at most, not 16 h
    doc = seven_day_doc(max_consecutive_days=2, min_consecutive_days_off=2, min_hours_per_week=16)
    with pytest.raises(RosterInfeasible) as err:
        build_roster(make_hall(**doc), WEEK, FAST)
    text = "\n".join(err.value.reasons)
    assert "张三 12月7日–13日 无法满足至少2个连休日" in text
    assert "张三 12月7日–13日 无法满足最多连续上班2天" in text


def test_a_succession_that_makes_a_contract_impossible_is_named():
    # late shifts only, never two in a row, yet runs of 2 days: only the horizon's ends can hold
    # a lone shift, so 3 shifts (4.5 h) cannot be placed
    doc = seven_day_doc(shifts=["late"], min_consecutive_days=2, min_hours_per_week=4.5)
    doc["roster"]["forbidden_successions"] = [["late", "late"]]
    with pytest.raises(RosterInfeasible) as err:
        build_roster(make_hall(**doc), WEEK, FAST)
    text = "\n".join(err.value.reasons)
    assert "张三 12月7日–13日 无法满足班次衔接限制（晚段班后不接晚段班）" in text
    assert "张三 12月7日–13日 无法满足至少连续上班2天" in text


def test_weekends_beyond_the_horizon_of_one_week_and_weekly_hours_per_week(tmp_path):
    doc = seven_day_doc(max_weekends=1, max_hours_per_week=10)
    hall = make_hall(**doc)
    days = [WEEK + timedelta(days=i) for i in range(14)]
    roster = build_roster(hall, WEEK, FAST, days=days)
    assert {a.day for a in roster.assignments} - set(days[:7])  # the second week is rostered too
    for first in (0, 7):
        week = set(days[first : first + 7])
        assert sum(a.paid_minutes for a in roster.for_clerk("k1") if a.day in week) <= 600
    weekends = {a.day.isocalendar()[1] for a in roster.for_clerk("k1") if a.day.weekday() >= 5}
    assert len(weekends) <= 1
    write_roster(hall, roster, tmp_path)
    assert check_files(hall, tmp_path / "roster.csv").violations == []


def test_the_weekly_minimum_is_checked_week_by_week():
    doc = small_hall_doc()
    away = [{"day": (date(2026, 12, 14) + timedelta(days=i)).isoformat()} for i in range(5)]
    doc["clerks"][0] |= {"min_hours_per_week": 6, "unavailable": away}  # away the whole second week
    hall = make_hall(**doc)
    days = [WEEK + timedelta(days=i) for i in range(14)]
    with pytest.raises(RosterInfeasible) as err:
        build_roster(hall, WEEK, FAST, days=days)
    assert any(
        "张三（k1）合同要求每周至少 6 小时，但12月14日（一）起的一周可排班次最多 0 小时" in r for r in err.value.reasons
    )
    assert build_roster(hall, WEEK, FAST, days=days[:7]).for_clerk("k1")  # the first week alone is fine


def test_a_fixed_cost_per_shift_steers_the_roster():
    doc = seven_day_doc()
    doc["clerks"][4]["shifts"] = ["morning", "early"]
    plain = build_roster(make_hall(**doc), WEEK, FAST, days=[WEEK])
    assert sum(a.shift == "morning" for a in plain.assignments) >= 3
    doc["roster"]["shifts"][0]["cost"] = 100000  # a morning shift now costs more than any shortage
    costly = build_roster(make_hall(**doc), WEEK, FAST, days=[WEEK])
    # three categories before and after 10:30 with five clerks: one must work the whole morning
    assert sum(a.shift == "morning" for a in costly.assignments) == 1


def test_hard_cover_above_a_level_is_kept_or_named():
    doc = small_hall_doc()
    doc["windows"] += [{"number": 5, "zone": "za", "class": "comp"}, {"number": 6, "zone": "za", "class": "comp"},
                       {"number": 7, "zone": "zb", "class": "taxw"}]  # fmt: skip
    doc["clerks"] += [{"id": "k6", "name": "孙八", "skills": {"biz": 1.0, "social": 1.0}},
                      {"id": "k7", "name": "周九", "skills": {"biz": 1.0, "tax": 1.0}},
                      {"id": "k8", "name": "吴十", "skills": {"tax": 1.0}}]  # fmt: skip
    doc["roster"] |= {"hard_cover": 0.4}
    roster = build_roster(make_hall(**doc), WEEK, FAST)
    assert any(math.ceil(0.4 * c.need) >= 2 for c in roster.coverage)
    for cell in roster.coverage:
        assert cell.planned >= math.ceil(0.4 * cell.need), cell
    doc["roster"] |= {"hard_cover": 1.0}  # the whole need, with 8 clerks for a need of 13: impossible
    with pytest.raises(RosterInfeasible) as err:
        build_roster(make_hall(**doc), WEEK, FAST)
    assert any("hard_cover 100%" in r for r in err.value.reasons)


def test_lag_correction_can_be_switched_off():
    hall = make_hall(roster=small_hall_doc()["roster"] | {"lag_correction": False})
    roster = build_roster(hall, WEEK, FAST, days=[WEEK])
    plan = staffing_plan(hall, WEEK, 15, lag=False)
    lagged = staffing_plan(hall, WEEK, 15, lag=True)
    assert plan.needs["tax"].scheduled != lagged.needs["tax"].scheduled
    needs = [c.need for c in roster.coverage if c.category == "tax"]
    assert needs == [n for n, is_open in zip(plan.needs["tax"].scheduled, plan.open, strict=True) if is_open]


def test_cli_horizon_of_fourteen_days_and_its_errors(tmp_path, capsys):
    cfg = tmp_path / "hall.yaml"
    cfg.write_text(yaml.safe_dump(small_hall_doc(), allow_unicode=True), encoding="utf-8")
    out = tmp_path / "r"
    args = ["roster", str(cfg), "--start", "2026-12-07", "--out", str(out), "--time-limit", "3", "--workers", "1"]
    assert main([*args, "--days", "14", "--no-lag"]) == 0
    printed = capsys.readouterr().out
    assert "0 处违规" in printed
    assert "2026-12-18" in (out / "roster.csv").read_text(encoding="utf-8")  # the second Friday
    assert main([*args, "--end", "2026-12-01"]) == 1
    assert "--end 2026-12-01 早于开始日期" in capsys.readouterr().err
    assert main([*args, "--days", "100"]) == 1
    assert "排班天数须在 1 到 56 之间" in capsys.readouterr().err


def test_bad_rules_in_the_configuration_name_their_field():
    doc = seven_day_doc(min_consecutive_days=4, max_consecutive_days=3, max_shifts={"nope": 1})
    doc["clerks"][1] |= {"requests": [{"day": "2026-12-08", "shift": "dusk", "kind": "on"}]}
    doc["roster"]["forbidden_successions"] = [["late", "dawn"]]
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    text = str(err.value)
    assert "clerks[0].min_consecutive_days" in text and "max_consecutive_days 3" in text
    assert "clerks[0].max_shifts" in text and "'nope'" in text
    assert "clerks[1].requests[0].shift" in text and "'dusk'" in text
    assert "roster.forbidden_successions[0]" in text and "'dawn'" in text
    doc = seven_day_doc(requests=[{"day": "2026-12-08", "kind": "on"}], max_weekends=-1)
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    text = str(err.value)
    assert "clerks[0].requests[0]" in text and "须写明班次" in text
    assert "clerks[0].max_weekends" in text
