"""The manager's figures for today and the rating pad's question, computed from a real hall run.

A hall service with the embedded store and a manual clock: tickets are issued, called and
finished through the one command path, and the clock moves so waits and pauses grow.
"""

from __future__ import annotations

import asyncio

from queue_server.commands import (
    CallNext,
    FinishService,
    IssueTicket,
    OpenWindow,
    PauseWindow,
    RateService,
    StartService,
)
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore
from queue_server.views import hall_alerts, open_seconds_today, pending_rating, ratings_today, utilisation_today
from tests.conftest import MONDAY_9AM


def run(example_hall, clock, tmp_path, script):
    async def scenario():
        service = HallService(example_hall, MemoryStore(tmp_path), clock)
        await service.start()
        await script(service)
        await service.store.close()
        return service

    return asyncio.run(scenario())


def test_alerts_name_over_target_idle_and_long_paused_windows(example_hall, clock, tmp_path):
    async def script(svc):
        for _ in range(2):
            await svc.execute(IssueTicket("business-setup"), "kiosk:k1")
        await svc.execute(OpenWindow(2, "c02"), "clerk:c02")  # open, idle, and A tickets wait
        await svc.execute(OpenWindow(16, "c16"), "clerk:c16")
        await svc.execute(PauseWindow(16, "系统故障"), "clerk:c16")
        clock.advance(25 * 60)

    svc = run(example_hall, clock, tmp_path, script)
    alerts = hall_alerts(svc.hall, svc.state, clock.now())
    kinds = {a["kind"]: a for a in alerts}
    assert kinds["over_target"]["zh"] == "企业开办等候超时：最长已等25分钟（目标20分钟），2人等候"
    assert kinds["idle_window"]["zh"] == "2号窗口空闲25分钟，但企业开办有人等候"
    assert kinds["long_pause"]["zh"] == "16号窗口已暂停25分钟（系统故障）"


def test_no_alerts_in_a_calm_hall(example_hall, clock, tmp_path):
    async def script(svc):
        await svc.execute(IssueTicket("tax"), "kiosk:k1")
        await svc.execute(OpenWindow(16, "c16"), "clerk:c16")
        await svc.execute(CallNext(16), "clerk:c16")
        clock.advance(5 * 60)

    svc = run(example_hall, clock, tmp_path, script)
    assert hall_alerts(svc.hall, svc.state, clock.now()) == []


def test_utilisation_ratings_and_the_pads_question(example_hall, clock, tmp_path):
    async def script(svc):
        await svc.execute(OpenWindow(16, "c16"), "clerk:c16")
        for minutes in (10, 20):
            await svc.execute(IssueTicket("tax"), "kiosk:k1")
            await svc.execute(CallNext(16), "clerk:c16")
            await svc.execute(StartService(16), "clerk:c16")
            clock.advance(minutes * 60)
            await svc.execute(FinishService(16, "completed", f"CASE-{minutes}"), "clerk:c16")
        await svc.execute(RateService("20261123-L001", 5, None), "pad:pad-16")  # L002 is not rated
        clock.advance(30 * 60)

    svc = run(example_hall, clock, tmp_path, script)
    now = clock.now()
    assert now - MONDAY_9AM == 60 * 60 and open_seconds_today(svc.hall, now) == 3600
    util = utilisation_today(svc.hall, svc.state, now)
    w16 = next(w for w in util["windows"] if w["number"] == 16)
    assert (w16["busy_minutes"], w16["served"], w16["utilisation"]) == (30.0, 2, 0.5)
    assert util["clerks"] == [
        {"clerk": "c16", "name": "郭霞", "busy_minutes": 30.0, "staffed_minutes": 60.0, "utilisation": 0.5}
    ]
    ratings = ratings_today(svc.hall, svc.state, now)
    assert (ratings["finished"], ratings["rated"], ratings["rating_rate"]) == (2, 1, 0.5)
    assert ratings["levels"]["5"] == 1 and ratings["bad"] == []
    # the pad asks about L002 (finished 30 minutes ago: too long) — nothing pending
    assert pending_rating(svc.hall, svc.state, 16, now) is None
    pending = pending_rating(svc.hall, svc.state, 16, now - 25 * 60)
    assert pending is not None
    assert (pending["number"], pending["case_number"]) == ("L002", "CASE-20")


def test_lunch_is_not_open_time(example_hall):
    # 14:00 on Monday: 09:00–12:00 and 13:30–14:00 = 3.5 hours
    assert open_seconds_today(example_hall, MONDAY_9AM + 5 * 3600) == 3.5 * 3600
