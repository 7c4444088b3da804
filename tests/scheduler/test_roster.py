"""The weekly roster on a small hall: contracts, coverage, windows, infeasibility, outputs, CLI."""

from __future__ import annotations

import csv
from datetime import date, time

import pytest
from icalendar import Calendar

from queue_server.cli import main
from scheduler.export import read_intervals, write_roster
from scheduler.roster import RosterInfeasible, RosterOptions, build_roster

from .conftest import make_hall, small_hall_doc

WEEK = date(2026, 12, 7)  # a Monday
FAST = RosterOptions(time_limit=2, workers=1)


def test_roster_respects_contracts_windows_and_cover(small_hall):
    roster = build_roster(small_hall, WEEK, FAST)
    assert roster.status in ("OPTIMAL", "FEASIBLE")
    assert roster.bound <= roster.objective + 1e-6 and 0 <= roster.gap <= 1
    working = [d for d in roster.days if d.weekday() < 5]
    by_clerk_day = {(a.clerk, a.day) for a in roster.assignments}
    assert len(by_clerk_day) == len(roster.assignments)  # at most one shift a day
    assert all(a.day in working for a in roster.assignments)  # nobody works on the closed weekend
    for a in roster.assignments:
        clerk = small_hall.clerk(a.clerk)
        if clerk.shifts is not None:
            assert a.shift in clerk.shifts
        for s in a.slots:
            if s.activity == "serve":
                assert s.category in clerk.skills  # only matters they are trained for
                assert s.window is not None
                assert s.category in small_hall.window_categories(s.window)
    # one clerk per window per interval
    seen = set()
    for a in roster.assignments:
        for s in a.slots:
            if s.window is not None:
                key = (a.day, s.start, s.window)
                assert key not in seen
                seen.add(key)
    # 不允许出现空岗: every category with demand has someone while the hall is open
    for cell in roster.coverage:
        if cell.need > 0:
            assert cell.planned >= 1, cell
    # a clerk serving one category all day keeps one window (no musical chairs)
    for a in roster.assignments:
        served = [s for s in a.slots if s.activity == "serve"]
        if served and len({s.category for s in served}) == 1:
            assert len({s.window for s in served}) == 1, a
    # weekly hours stay within each contract
    for clerk in small_hall.clerks:
        minutes = sum(a.paid_minutes for a in roster.for_clerk(clerk.id))
        assert minutes <= clerk.max_hours_per_week * 60


def test_days_off_and_unavailability_are_honoured():
    doc = small_hall_doc()
    doc["clerks"][0] |= {"days_off": ["mon"], "unavailable": [{"day": "2026-12-09"}]}
    doc["clerks"][3] |= {"unavailable": [{"weekday": "tue", "start": "09:00", "end": "10:00"}]}
    hall = make_hall(**{k: v for k, v in doc.items()})
    roster = build_roster(hall, WEEK, FAST)
    k1_days = {a.day for a in roster.for_clerk("k1")}
    assert date(2026, 12, 7) not in k1_days and date(2026, 12, 9) not in k1_days
    for a in roster.for_clerk("k4"):
        if a.day == date(2026, 12, 8):
            assert a.start >= time(10, 0)  # no template starts after 10:00 here, so k4 is off
    assert all(a.day != date(2026, 12, 8) for a in roster.for_clerk("k4"))


def test_a_lunch_break_is_placed_inside_its_window():
    doc = small_hall_doc()
    doc["hours"] = {"days": ["mon"], "open": "09:00", "close": "15:00"}
    doc["demand"] = {"interval_minutes": 30, "shape": [3, 4, 5, 5, 4, 3, 3, 4, 4, 3, 2, 2]}
    doc["roster"] = {
        "interval_minutes": 15,
        "min_cover": 0,  # five clerks cannot keep three categories staffed through everyone's break
        "shifts": [{"id": "day", "name": "全天", "start": "09:00", "end": "15:00", "break_minutes": 45,
                    "break_window": {"start": "11:30", "end": "13:30"}}],
    }  # fmt: skip
    doc["clerks"] = [c | {"shifts": None} for c in doc["clerks"]]
    hall = make_hall(**doc)
    roster = build_roster(hall, WEEK, FAST, days=[WEEK])
    assert roster.assignments
    for a in roster.assignments:
        assert a.break_start is not None and a.break_end is not None
        assert time(11, 30) <= a.break_start and a.break_end <= time(13, 30)
        assert [s.activity for s in a.slots].count("break") == 3  # 45 minutes = 3 intervals
        assert a.paid_minutes == 6 * 60 - 45


def test_nobody_with_a_needed_skill_is_explained():
    doc = small_hall_doc()
    doc["clerks"] = [c for c in doc["clerks"] if "tax" not in c["skills"]]
    hall = make_hall(**doc)
    with pytest.raises(RosterInfeasible) as err:
        build_roster(hall, WEEK, FAST)
    text = "\n".join(err.value.reasons)
    assert "税务办理" in text and "资质" in text and "'tax'" in text


def test_a_contract_minimum_that_cannot_be_reached_is_explained():
    doc = small_hall_doc()
    doc["clerks"][4] |= {"min_hours_per_week": 30}  # 钱七 may only work 3-hour mornings: 16.25 h at most
    hall = make_hall(**doc)
    with pytest.raises(RosterInfeasible) as err:
        build_roster(hall, WEEK, FAST)
    assert any("钱七" in r and "30" in r for r in err.value.reasons)


def test_conflicting_requirements_found_by_the_relaxed_solve_are_named():
    """Each clerk alone could cover the floor, but the week's hours cannot: the slack solve names it."""
    doc = small_hall_doc()
    for c in doc["clerks"]:
        c["max_hours_per_week"] = 4 if "tax" in c["skills"] else 40
    hall = make_hall(**doc)
    with pytest.raises(RosterInfeasible) as err:
        build_roster(hall, WEEK, FAST)
    assert any("税务办理" in r and "至少 1 人在岗" in r for r in err.value.reasons)


def test_outputs_csv_ics_html_and_read_back(small_hall, tmp_path):
    roster = build_roster(small_hall, WEEK, FAST)
    write_roster(small_hall, roster, tmp_path)
    with (tmp_path / "roster.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:7] == ["clerk", "date", "start", "end", "break_start", "break_end", "window"]
    assert len(rows) == len(roster.assignments)
    intervals = read_intervals(tmp_path)
    served = [r for r in intervals if r.activity == "serve"]
    assert served and all(r.category and r.window for r in served)
    cal = Calendar.from_ical((tmp_path / "calendars" / "k3.ics").read_bytes())
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == len(roster.for_clerk("k3"))
    assert cal.walk("VTIMEZONE")  # the hall's time zone travels with the file
    first = min(events, key=lambda e: e.decoded("dtstart"))
    assert first.decoded("dtstart").tzinfo is not None and "窗口" in str(first.get("summary"))
    html = (tmp_path / "roster.html").read_text(encoding="utf-8")
    assert "周排班表" in html and "王五" in html and html.count("<table>") == 5


def test_cli_roster_and_staffing(tmp_path, capsys):
    import yaml

    cfg = tmp_path / "hall.yaml"
    cfg.write_text(yaml.safe_dump(small_hall_doc(), allow_unicode=True), encoding="utf-8")
    out = tmp_path / "roster"
    assert main(["roster", str(cfg), "--week", "2026-12-07", "--out", str(out), "--time-limit", "3",
                 "--workers", "1"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "排班完成" in printed and "gap" in printed
    assert "排班检查 Roster check:" in printed and "0 处违规 (0 violations)" in printed  # checked its own output
    assert (out / "roster.csv").exists() and (out / "calendars" / "k1.ics").exists()
    assert main(["staffing", str(cfg), "--day", "2026-12-07"]) == 0
    table = capsys.readouterr().out
    assert "09:00" in table and "L=税务办理" in table
    assert main(["staffing", str(cfg), "--day", "2026-12-12"]) == 0
    assert "休息日" in capsys.readouterr().out


def test_cli_bad_input_is_a_clear_error(tmp_path, capsys):
    import yaml

    cfg = tmp_path / "hall.yaml"
    doc = small_hall_doc()
    doc["clerks"][0]["shifts"] = ["nightshift"]
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert main(["roster", str(cfg), "--week", "2026-12-07", "--out", str(tmp_path / "o")]) == 2
    assert "unknown shift 'nightshift'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["roster", str(cfg), "--week", "7 Dec", "--out", str(tmp_path / "o")])
    assert "YYYY-MM-DD" in capsys.readouterr().err
