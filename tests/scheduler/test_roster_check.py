"""The independent roster check: a solved roster passes, and each rule broken by hand is named."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from queue_server.cli import main
from scheduler.export import INTERVAL_COLUMNS, ROSTER_COLUMNS, write_roster
from scheduler.roster import RosterOptions, build_roster
from scheduler.roster_check import check_files

from .conftest import make_hall, small_hall_doc

WEEK = date(2026, 12, 7)  # a Monday
FAST = RosterOptions(time_limit=2, workers=1)
TIMES = {"morning": ("08:45", "12:00"), "early": ("09:00", "10:30"), "late": ("10:30", "12:00")}


def seven_day_doc(**clerk0: Any) -> dict[str, Any]:
    """The small hall open every day, with a 'late' shift and clerk k1's contract extended."""
    doc = small_hall_doc()
    doc["hours"] = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "09:00", "close": "12:00"}
    doc["roster"]["shifts"].append({"id": "late", "name": "晚段班", "start": "10:30", "end": "12:00"})
    doc["clerks"][0] |= clerk0
    return doc


def write_rows(folder: Path, rows: list[tuple[str, date, str]], window: int = 1) -> Path:
    """A hand-written roster.csv: (clerk, day, shift) per line."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "roster.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(ROSTER_COLUMNS)
        for clerk, day, shift in rows:
            start, end = TIMES[shift]
            w.writerow([clerk, day.isoformat(), start, end, "", "", window, shift, ""])
    return path


def kinds(result: Any) -> list[str]:
    return [v.kind for v in result.violations]


def days(n: int) -> list[date]:
    return [WEEK + timedelta(days=i) for i in range(n)]


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    hall = make_hall()
    out = tmp_path_factory.mktemp("roster")
    write_roster(hall, build_roster(hall, WEEK, FAST), out)
    return hall, out


def test_the_solvers_own_roster_has_no_violations(solved):
    hall, out = solved
    result = check_files(hall, out / "roster.csv")
    assert result.shifts > 0 and result.violations == []


def test_a_shift_outside_the_contract_is_named(tmp_path):
    path = write_rows(tmp_path, [("k5", WEEK, "early")])  # 钱七 may only work mornings
    result = check_files(make_hall(), path, days(7))
    assert kinds(result) == ["contract"]
    assert "钱七 12月7日" in result.violations[0].zh and "早段班" in result.violations[0].zh


def test_weekly_hours_above_the_contract_are_named(tmp_path):
    doc = small_hall_doc()
    doc["clerks"][0]["max_hours_per_week"] = 5
    path = write_rows(tmp_path, [("k1", WEEK, "morning"), ("k1", WEEK + timedelta(days=1), "morning")])
    result = check_files(make_hall(**doc), path, days(7))
    assert kinds(result) == ["minutes"]
    assert result.violations[0].zh == "张三 12月7日–13日 工作 6.5 小时，超过上限 5 小时"


def test_a_break_outside_its_window_is_named(tmp_path):
    doc = small_hall_doc()
    doc["roster"]["shifts"][0] |= {"break_minutes": 30, "break_window": {"start": "10:00", "end": "11:00"}}
    path = tmp_path / "roster.csv"
    path.write_text(",".join(ROSTER_COLUMNS) + "\nk1,2026-12-07,08:45,12:00,11:15,11:45,1,morning,\n", encoding="utf-8")
    result = check_files(make_hall(**doc), path, days(7))
    assert kinds(result) == ["break"] and "不在 10:00–11:00 之内" in result.violations[0].zh


def test_a_window_the_clerk_is_not_trained_for_is_named(tmp_path):
    path = write_rows(tmp_path, [("k3", WEEK, "morning")], window=1)  # 王五 does tax only; window 1 is comprehensive
    result = check_files(make_hall(), path, days(7))
    assert kinds(result) == ["skills"] and "受理资质" in result.violations[0].zh


def test_days_off_unavailability_and_closed_days_are_named(tmp_path):
    doc = small_hall_doc()
    doc["clerks"][0] |= {"days_off": ["mon"]}
    doc["clerks"][1] |= {"unavailable": [{"day": "2026-12-08", "start": "09:00", "end": "10:00"}]}
    rows = [
        ("k1", WEEK, "morning"),
        ("k2", WEEK + timedelta(days=1), "early"),
        ("k3", WEEK + timedelta(days=5), "early"),
    ]
    result = check_files(make_hall(**doc), write_rows(tmp_path, rows, window=3), days(7))
    assert sorted(kinds(result)) == ["availability", "closed", "days_off", "skills"]  # k1 at a tax window, too
    text = "\n".join(v.zh for v in result.violations)
    assert "张三 12月7日 是指定休息日却排了班" in text and "李四 12月8日 09:00–10:00 不可上班" in text
    assert "王五 12月12日 大厅不开放" in text


def test_a_forbidden_succession_is_named(tmp_path):
    doc = seven_day_doc()
    doc["roster"]["forbidden_successions"] = [["late", "early"]]
    rows = [("k1", WEEK, "late"), ("k1", WEEK + timedelta(days=1), "early")]
    result = check_files(make_hall(**doc), write_rows(tmp_path, rows), days(7))
    assert kinds(result) == ["succession"]
    assert result.violations[0].zh == "张三 12月7日–8日 晚段班之后次日接早段班（禁止的班次衔接）"


def test_too_many_shifts_of_a_type_are_named(tmp_path):
    rows = [("k1", WEEK, "early"), ("k1", WEEK + timedelta(days=2), "early")]
    result = check_files(make_hall(**seven_day_doc(max_shifts={"early": 1})), write_rows(tmp_path, rows), days(7))
    assert kinds(result) == ["max_shifts"] and "早段班 2 次，超过上限 1 次" in result.violations[0].zh


def test_too_many_consecutive_working_days_are_named(tmp_path):
    rows = [("k1", WEEK + timedelta(days=i), "early") for i in range(4)]
    result = check_files(make_hall(**seven_day_doc(max_consecutive_days=3)), write_rows(tmp_path, rows), days(7))
    assert kinds(result) == ["max_run"]
    assert result.violations[0].zh == "张三 12月7日–10日 连续上班 4 天，超过最多连续上班3天"


def test_too_few_consecutive_working_days_are_named(tmp_path):
    rows = [("k1", WEEK + timedelta(days=1), "early"), ("k1", WEEK + timedelta(days=3), "early"),
            ("k1", WEEK + timedelta(days=4), "early")]  # fmt: skip
    result = check_files(make_hall(**seven_day_doc(min_consecutive_days=2)), write_rows(tmp_path, rows), days(7))
    assert kinds(result) == ["min_run"]  # the Thursday–Friday run is long enough
    assert result.violations[0].zh == "张三 12月8日 只连续上班 1 天，无法满足至少连续上班2天"


def test_too_few_consecutive_days_off_are_named(tmp_path):
    rows = [("k1", WEEK, "early"), ("k1", WEEK + timedelta(days=2), "early")]
    result = check_files(make_hall(**seven_day_doc(min_consecutive_days_off=2)), write_rows(tmp_path, rows), days(7))
    assert kinds(result) == ["min_off"]  # the run of days off after Wednesday reaches the horizon's end
    assert result.violations[0].zh == "张三 12月8日 只连休 1 天，无法满足至少2个连休日"


def test_too_many_weekends_are_named(tmp_path):
    rows = [("k1", date(2026, 12, 12), "early"), ("k1", date(2026, 12, 20), "early")]
    result = check_files(make_hall(**seven_day_doc(max_weekends=1)), write_rows(tmp_path, rows), days(14))
    assert kinds(result) == ["weekends"]
    assert result.violations[0].zh == "张三 12月7日–20日 上了 2 个周末，超过最多上1个周末"


def test_an_empty_post_and_a_double_booked_window_are_named(solved, tmp_path):
    hall, out = solved
    (tmp_path / "roster.csv").write_bytes((out / "roster.csv").read_bytes())
    (tmp_path / "summary.json").write_bytes((out / "summary.json").read_bytes())
    with (out / "intervals.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    monday_nine = [r for r in rows if r["date"] == "2026-12-07" and r["start"] == "09:00" and r["activity"] == "serve"]
    tax = [r for r in monday_nine if r["category"] == "tax"]
    biz = next(r for r in monday_nine if r["category"] != "tax")
    for r in tax:  # nobody serves tax on Monday at 09:00 any more…
        r["activity"] = "duty"
    clone = dict(biz, clerk=next(c.id for c in hall.clerks if c.id != biz["clerk"] and biz["category"] in c.skills))
    rows.append(clone)  # …and a second clerk sits at the same window
    with (tmp_path / "intervals.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, INTERVAL_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    result = check_files(hall, tmp_path / "roster.csv")
    assert sorted(set(kinds(result))) == ["cover", "window"]
    text = "\n".join(v.zh for v in result.violations)
    assert "12月7日 09:00「税务办理」在岗 0 人，少于必须的 1 人" in text and "号窗口同时安排了" in text


def test_cli_check_prints_violations_in_chinese_first(tmp_path, capsys):
    cfg = tmp_path / "hall.yaml"
    cfg.write_text(yaml.safe_dump(seven_day_doc(min_consecutive_days_off=2), allow_unicode=True), encoding="utf-8")
    path = write_rows(tmp_path / "r", [("k1", WEEK, "early"), ("k1", WEEK + timedelta(days=2), "early")])
    code = main(["roster", "check", str(path), "--config", str(cfg), "--start", "2026-12-07"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "1 处违规 (1 violations)" in printed
    assert "张三 12月8日 只连休 1 天，无法满足至少2个连休日 (k1 2026-12-08–2026-12-08" in printed
