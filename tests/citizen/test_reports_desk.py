"""Reports a manager can judge a clerk by: busy and idle time and utilisation per window and clerk,
chosen calls and suspended services in the figures, and a 考评 score that counts the work done."""

from __future__ import annotations

from datetime import date

import pytest

from queue_server import reports
from queue_server.commands import (
    CallNext,
    CallTicket,
    CloseWindow,
    FinishService,
    IssueTicket,
    NoShow,
    OpenWindow,
    PauseWindow,
    RateService,
    ResumeTicket,
    ResumeWindow,
    StartService,
    SuspendTicket,
)
from queue_server.views import open_seconds_today

from .conftest import Hallq, at

MON = "2026-11-23"
DAY = date(2026, 11, 23)


def a_morning(hq: Hallq) -> dict[str, str]:
    """c16 at window 16: a chosen call, a service set aside for 20 minutes, a pause; c17 at window 17:
    one call, a no-show within the target wait, nothing served."""
    hq.set(MON, "09:00")
    hq.do(OpenWindow(16, "c16"))
    hq.do(OpenWindow(17, "c17"))
    first = hq.do(IssueTicket("tax"))["ticket"]
    second = hq.do(IssueTicket("tax"))["ticket"]
    third = hq.do(IssueTicket("tax"))["ticket"]
    hq.set(MON, "09:10")
    hq.do(CallTicket(16, second, "special"), "clerk:c16")
    hq.do(StartService(16))
    hq.set(MON, "09:15")
    hq.do(SuspendTicket(16, "回去取材料"), "clerk:c16")
    hq.do(CallNext(17), "clerk:c17")  # first
    hq.set(MON, "09:20")
    hq.do(NoShow(17), "clerk:c17")
    hq.do(CloseWindow(17))
    hq.set(MON, "09:35")
    hq.do(ResumeTicket(16, second), "clerk:c16")
    hq.set(MON, "09:40")
    hq.do(FinishService(16))
    hq.do(RateService(second, 5))
    hq.do(PauseWindow(16, "break"))
    hq.set(MON, "09:50")
    hq.do(ResumeWindow(16))
    hq.do(CallNext(16))  # third
    hq.do(StartService(16))
    hq.set(MON, "09:55")
    hq.do(FinishService(16))
    hq.set(MON, "10:00")
    hq.do(CloseWindow(16))
    return {"first": first, "second": second, "third": third}


def test_busy_idle_and_utilisation_per_window_and_clerk(hq):
    a_morning(hq)
    opened = open_seconds_today(hq.hall, at(MON, "17:00"))
    rows = {r["key"]: r for r in reports.summary(hq.hall, hq.events(), DAY, DAY, "daily", "clerk")}
    c16 = rows["c16"]
    # busy 09:10–09:15 and 09:35–09:40 (the 20 minutes set aside are not), 09:50–09:55; paused 09:40–09:50
    assert c16["busy_min"] == 15.0
    assert c16["idle_min"] == 35.0  # logged in 60, busy 15, paused 10
    assert c16["utilisation"] == round(15 * 60 / opened, 3)
    assert c16["chosen_calls"] == 1 and c16["suspended"] == 1
    assert c16["service_mean_min"] == 7.5  # (30 − 20 set aside) and 5 minutes: the time away is not service
    assert (rows["c17"]["busy_min"], rows["c17"]["served"], rows["c17"]["idle_min"]) == (5.0, 0, 15.0)
    by_window = {r["key"]: r for r in reports.summary(hq.hall, hq.events(), DAY, DAY, "daily", "window")}
    assert by_window["16"]["busy_min"] == 15.0 and by_window["17"]["utilisation"] == round(300 / opened, 3)
    by_category = reports.summary(hq.hall, hq.events(), DAY, DAY, "daily", "category")
    assert by_category[0]["chosen_calls"] == 1 and by_category[0].get("busy_min") is None  # no such figure per matter
    csv_text = reports.to_csv(list(rows.values()))
    assert "利用率 utilisation" in csv_text and "空闲(分) idle_min" in csv_text


def test_a_clerk_who_served_nobody_does_not_score_20(hq):
    a_morning(hq)
    rows = {r["clerk"]: r for r in reports.evaluation(hq.hall, hq.events(), "2026Q4")}
    idle = rows["c17"]
    # c17's one call was within the target wait (the old score gave 20 × within target = 20)
    assert idle["served"] == 0 and idle["within_target"] == 1.0
    assert idle["score"] == 0.0 and idle["workload"] == 0.0
    worker = rows["c16"]
    assert worker["served"] == 2 and worker["workload"] == 1.0
    # workload 1, good 1, one of two rated, one of two waits within target (the other 50 min), one visit each
    assert worker["score"] == pytest.approx(30 + 30 * 1.0 + 10 * 0.5 + 15 * 0.5 + 15 * 1.0, abs=0.1)
    assert worker["utilisation"] == pytest.approx(15 * 60 / reports_open_quarter(hq), abs=0.001)
    assert worker["idle_hours"] == pytest.approx(35 / 60, abs=0.05)


def reports_open_quarter(hq: Hallq) -> float:
    first, last = reports.quarter_bounds("2026Q4")
    return sum(
        open_seconds_today(hq.hall, at(date.fromordinal(o).isoformat(), "23:59"))
        for o in range(first.toordinal(), last.toordinal() + 1)
    )
