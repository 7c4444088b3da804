"""Reports from the event log: waits, no-shows, abandonment, one-visit rate, ratings, export, 考评, CLI."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date

import pytest

from queue_server import reports
from queue_server.cli import main
from queue_server.clock import ManualClock
from queue_server.commands import (
    AppealRating,
    CallNext,
    CancelTicket,
    CloseWindow,
    DecideAppeal,
    FinishService,
    IssueTicket,
    NoShow,
    OpenWindow,
    RateService,
    StartService,
)
from queue_server.config import load_config
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore
from tests.server.conftest import write_test_config

from .conftest import Hallq, at

MON, TUE = "2026-11-23", "2026-11-24"


def two_days(hq: Hallq) -> dict[str, str]:
    """Monday and Tuesday at tax window 16: a served, a re-visit, an expired, a cancelled and a no-show ticket."""
    t: dict[str, str] = {}
    hq.set(MON, "09:00")
    hq.do(OpenWindow(16, "c16"))
    t["t1"] = hq.do(IssueTicket("tax"))["ticket"]
    hq.set(MON, "09:05")
    t["t2"] = hq.do(IssueTicket("tax"))["ticket"]
    hq.set(MON, "09:06")
    t["t3"] = hq.do(IssueTicket("tax", "phone", phone_key="p" * 24))["ticket"]
    hq.set(MON, "09:07")
    t["t4"] = hq.do(IssueTicket("tax"))["ticket"]
    hq.do(CancelTicket(t["t4"]))
    hq.set(MON, "09:08")
    t["t5"] = hq.do(IssueTicket("tax"))["ticket"]
    for key, call, end, case, outcome, level in (
        ("t1", "09:10", "09:20", "SW-1", "completed", 5),
        ("t2", "09:25", "09:35", "SW-2", "supplement", 1),
    ):
        hq.set(MON, call)
        assert hq.do(CallNext(16))["ticket"] == t[key]
        hq.do(StartService(16))
        hq.set(MON, end)
        hq.do(FinishService(16, outcome, case))
        hq.do(RateService(t[key], level, efficiency=level, skill=level, attitude=level))
    hq.set(MON, "09:40")
    assert hq.do(CallNext(16))["expired"] == [t["t3"]]
    hq.do(NoShow(16))
    hq.set(MON, "09:45")
    hq.do(CloseWindow(16))
    hq.set(TUE, "09:00")
    hq.do(OpenWindow(16, "c16"))
    t["t6"] = hq.do(IssueTicket("tax"))["ticket"]
    hq.set(TUE, "09:02")
    hq.do(CallNext(16))
    hq.do(StartService(16))
    hq.set(TUE, "09:10")
    hq.do(FinishService(16, "completed", "SW-2"))  # the second trip for case SW-2
    hq.do(RateService(t["t6"], 4))
    return t


def test_report_figures_per_category(hq):
    two_days(hq)
    rows = reports.summary(hq.hall, hq.events(), date(2026, 11, 23), date(2026, 11, 24), "monthly", "category")
    assert len(rows) == 1
    r = rows[0]
    assert (r["period"], r["key"], r["name"]) == ("2026-11", "tax", "税务办理")
    assert (r["tickets"], r["called"], r["served"]) == (6, 4, 3)
    assert r["wait_mean_min"] == pytest.approx((10 + 20 + 32 + 2) / 4, abs=0.05)
    assert r["wait_p90_min"] == 32.0 and r["within_target"] == 0.75  # target 20 min
    assert r["service_mean_min"] == pytest.approx((10 + 10 + 8) / 3, abs=0.05)
    assert (r["no_shows"], r["abandoned"]) == (1, 2)  # t5; t3 expired + t4 cancelled
    assert r["one_visit_rate"] == pytest.approx(1 / 3, abs=0.001)  # SW-2 needed two trips
    assert (r["rated"], r["rating_rate"], r["good_rate"], r["bad"]) == (3, 1.0, pytest.approx(0.667, abs=0.001), 1)
    assert (r["outcome_completed"], r["outcome_supplement"]) == (2, 1)


def test_daily_rows_per_window_and_clerk_and_an_upheld_appeal(hq):
    t = two_days(hq)
    daily = reports.summary(hq.hall, hq.events(), date(2026, 11, 23), date(2026, 11, 24), "daily", "clerk")
    assert [(r["period"], r["key"], r["name"], r["served"]) for r in daily] == [
        ("2026-11-23", "c16", "郭霞", 2),
        ("2026-11-24", "c16", "郭霞", 1),
    ]
    by_window = reports.summary(hq.hall, hq.events(), date(2026, 11, 23), date(2026, 11, 23), "weekly", "window")
    assert [(r["period"], r["key"]) for r in by_window] == [("2026-W48", "16")]
    hq.do(AppealRating(f"FU-{t['t2']}", "政策原因"))
    hq.do(DecideAppeal(f"FU-{t['t2']}", True, "属实"))
    total = reports.totals(hq.hall, hq.events(), date(2026, 11, 23), date(2026, 11, 24))
    assert (total["good_rate"], total["bad"], total["rated"]) == (1.0, 0, 3)


def test_csv_export_and_plots(hq):
    two_days(hq)
    rows = reports.summary(hq.hall, hq.events(), date(2026, 11, 23), date(2026, 11, 24), "daily", "category")
    text = reports.to_csv(rows)
    parsed = list(csv.reader(text.lstrip("\ufeff").splitlines()))
    assert parsed[0][3] == "取号数 tickets" and [p[3] for p in parsed[1:]] == ["5", "1"]
    svgs = reports.plots(rows)
    assert set(svgs) == {"tickets", "wait", "trend"} and all(s.lstrip().startswith("<?xml") for s in svgs.values())


def test_rating_export_for_the_provincial_platform(hq):
    t = two_days(hq)
    doc = reports.rating_export(hq.hall, hq.events(), date(2026, 11, 23), date(2026, 11, 23))
    assert doc["format"] == "hallq.haochaping.v1" and doc["count"] == 2
    bad = next(r for r in doc["records"] if r["ticket"] == t["t2"])
    assert bad["case_number"] == "SW-2" and bad["scores"] == {"overall": 1, "efficiency": 1, "skill": 1, "attitude": 1}
    assert bad["level_name"] == "非常不满意" and bad["followup"]["stage"] == "verify"
    assert bad["followup"]["due"] == "2026-12-14"


def test_quarterly_evaluation_sheet(hq):
    two_days(hq)
    rows = reports.evaluation(hq.hall, hq.events(), "2026q4")
    assert len(rows) == 1
    r = rows[0]
    assert (r["clerk"], r["name"], r["quarter"], r["served"], r["days_on_duty"]) == ("c16", "郭霞", "2026Q4", 3, 2)
    assert r["hours_on_duty"] == pytest.approx(0.75 + 8, abs=0.06)  # Mon 09:00–09:45, Tue 09:00 to closing
    assert 0 < r["score"] < 100
    assert reports.evaluation(hq.hall, hq.events(), "2026Q3") == []
    with pytest.raises(ValueError, match="2026Q4"):
        reports.quarter_bounds("2026-4")


def test_hallq_report_command_writes_html_csv_and_export(tmp_path, capsys):
    config = write_test_config(tmp_path)
    hall = load_config(config).halls[0]
    loop = asyncio.new_event_loop()
    store = MemoryStore(tmp_path / "data", "never")
    service = HallService(hall, store, ManualClock(at(MON, "09:00")))
    loop.run_until_complete(service.start())
    two_days(Hallq(service, service.clock, loop))  # type: ignore[arg-type]
    loop.run_until_complete(store.close())
    loop.close()
    out = tmp_path / "report"
    code = main(["report", "--config", str(config), "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {
        "index.html",
        "by-category.csv",
        "by-window.csv",
        "by-clerk.csv",
        "ratings.json",
        "evaluation-2026Q4.csv",
    }
    assert "税务办理" in (out / "index.html").read_text(encoding="utf-8")
    assert json.loads((out / "ratings.json").read_text(encoding="utf-8"))["count"] == 3
    bad = main(["report", "--config", str(config), "--from", "2026-11-30", "--to", "2026-11-01", "--out", str(out)])
    assert bad == 1 and "--to" in capsys.readouterr().err


def test_booking_summary_counts_kept_late_missed_and_cancelled(hq):
    from queue_server.commands import BookAppointment, CancelBooking, CheckIn

    codes = []
    for i, hhmm in enumerate(("11:30", "10:00", "10:30", "11:00")):
        made = hq.do(BookAppointment("household", at(MON, hhmm), f"{i}" * 32, "张*", "138****0000"))
        codes.append(made["booking"])
    hq.do(CancelBooking(codes[0]))
    hq.set(MON, "09:50")
    hq.do(CheckIn(booking=codes[1]))
    hq.set(MON, "10:50")
    hq.do(CheckIn(booking=codes[2]))  # 20 minutes late: walk-in
    hq.set(MON, "12:00")  # the 11:00 booking was never checked in
    rows = reports.booking_summary(hq.hall, hq.events(), date(2026, 11, 23), date(2026, 11, 23), hq.clock.now())
    assert rows == [
        {
            "key": "household",
            "name": "户籍办理",
            "booked": 4,
            "cancelled": 1,
            "checked_in": 1,
            "late": 1,
            "missed": 1,
            "show_rate": 0.667,
        }
    ]
