"""The wait a citizen is told, on the core with a manual clock (the tiny hall: window 3 serves
税务 C alone, 10-minute mean service; strict priority, elderly first)."""

from __future__ import annotations

from queue_server.commands import CallNext, FinishService, IssueTicket, OpenWindow, StartService
from queue_server.estimate import Forecast, mean_service_seconds, shown_wait, wait_text
from queue_server.views import ticket_status, utilisation_today


def _serve(d, seconds: float) -> None:
    d.do(IssueTicket("C"))
    d.do(CallNext(3))
    d.do(StartService(3))
    d.clock.advance(seconds)
    d.do(FinishService(3))


def test_clicks_of_start_and_finish_together_do_not_drag_the_estimate_to_seconds(driver_factory, tiny_hall):
    d = driver_factory(tiny_hall)
    d.do(OpenWindow(3, "k3"))
    for _ in range(12):  # a clerk who clicks 开始 and 办结 together
        _serve(d, 0.3)
    assert abs(mean_service_seconds(tiny_hall, d.svc.state, "C") - 600) < 1
    tickets = [d.do(IssueTicket("C"))["ticket"] for _ in range(4)]
    d.do(CallNext(3))  # the first is at the window; three wait
    last = ticket_status(tiny_hall, d.svc.state, d.svc.state.tickets[tickets[-1]], d.clock.now())
    assert last["ahead"] == 2 and last["estimated_wait_minutes"] == 30
    low, high = last["estimated_wait_low_minutes"], last["estimated_wait_high_minutes"]
    assert low < 30 < high
    text = {"zh": f"预计等待约30分钟（{low}–{high}分钟）", "en": f"about 30 min ({low}–{high} min)"}
    assert last["estimated_wait_text"] == text


def test_real_services_move_the_estimate_toward_what_the_clerks_take(driver_factory, tiny_hall):
    d = driver_factory(tiny_hall)
    d.do(OpenWindow(3, "k3"))
    for _ in range(30):
        _serve(d, 15 * 60)  # 15 minutes each, the configuration says 10
    mean = mean_service_seconds(tiny_hall, d.svc.state, "C") / 60
    assert mean == 13.75  # (10 × 10 configured + 30 × 15 observed) ÷ 40: the prior counts for ten services


def test_a_wait_of_seconds_is_said_as_such(driver_factory, tiny_hall):
    d = driver_factory(tiny_hall)
    d.do(OpenWindow(3, "k3"))
    t = d.do(IssueTicket("C"))["ticket"]  # window 3 is free: the call comes at once
    status = ticket_status(tiny_hall, d.svc.state, d.svc.state.tickets[t], d.clock.now())
    assert status["estimated_wait_minutes"] == 0
    assert status["estimated_wait_text"] == {"zh": "即将叫号（1分钟内）", "en": "you will be called within a minute"}


def test_a_priority_ticket_is_told_its_place_in_the_calling_order(driver_factory, tiny_hall):
    d = driver_factory(tiny_hall)
    d.do(OpenWindow(3, "k3"))
    for _ in range(5):
        d.do(IssueTicket("C"))
    d.do(CallNext(3))
    elderly = d.do(IssueTicket("C", priority_group="elderly"))["ticket"]
    status = ticket_status(tiny_hall, d.svc.state, d.svc.state.tickets[elderly], d.clock.now())
    assert status["position"] == 1 and status["estimated_wait_minutes"] == 10


def test_a_wait_beyond_the_twins_horizon_is_never_told_as_the_horizon(driver_factory, tiny_hall):
    d = driver_factory(tiny_hall)
    d.do(OpenWindow(3, "k3"))
    ids = [d.do(IssueTicket("C"))["ticket"] for _ in range(28)]
    d.do(CallNext(3))
    now = d.clock.now()
    waits = {
        ids[1]: {"p10": 5.0, "p50": 9.0, "mean": 10.0, "p90": 16.0, "called_share": 1.0},
        ids[-1]: {"p10": 120.0, "p50": 120.0, "mean": 120.0, "p90": 120.0, "called_share": 0.0},
    }

    def twin() -> Forecast:
        return Forecast(now, 120.0, waits)

    far = shown_wait(tiny_hall, d.svc.state, d.svc.state.tickets[ids[-1]], now, twin)
    assert far.source == "twin" and far.minutes == 270  # the queue rule: 27 services of 10 minutes, not 120
    assert wait_text(far) == {"zh": "预计超过2小时", "en": "more than 2 hours"}
    near = ticket_status(tiny_hall, d.svc.state, d.svc.state.tickets[ids[1]], now, twin)
    assert near["estimate_source"] == "twin" and near["estimated_wait_text"]["zh"] == "预计等待约10分钟（5–16分钟）"
    # a ticket taken after the forecast: the twin's last ticket before it, plus one call interval
    d.clock.advance(60)
    ids.append(d.do(IssueTicket("C"))["ticket"])
    newcomer = shown_wait(tiny_hall, d.svc.state, d.svc.state.tickets[ids[-1]], d.clock.now(), twin)
    assert newcomer.source == "twin" and newcomer.beyond == 120.0


def test_utilisation_counts_the_time_on_duty_not_the_halls_day(driver_factory, tiny_hall, clock):
    clock.advance(11 * 3600)  # 20:00, after hours (as a demo in the evening)
    d = driver_factory(tiny_hall)
    d.do(OpenWindow(3, "k3"))
    clock.advance(5 * 60)
    _serve(d, 5 * 60)  # busy 5 of the 10 minutes the window has been open
    util = utilisation_today(tiny_hall, d.svc.state, clock.now())
    w3 = next(w for w in util["windows"] if w["number"] == 3)
    assert (w3["busy_minutes"], w3["staffed_minutes"], w3["utilisation"]) == (5.0, 10.0, 0.5)
    assert util["clerks"][0]["utilisation"] == 0.5


def test_a_service_that_has_run_long_brings_the_next_call_closer(driver_factory, tiny_hall):
    d = driver_factory(tiny_hall)
    d.do(OpenWindow(3, "k3"))
    d.do(IssueTicket("C"))
    d.do(CallNext(3))
    d.do(StartService(3))
    nxt = d.do(IssueTicket("C"))["ticket"]
    fresh = ticket_status(tiny_hall, d.svc.state, d.svc.state.tickets[nxt], d.clock.now())
    d.clock.advance(9 * 60)  # the service under way has run 9 of its usual 10 minutes
    later = ticket_status(tiny_hall, d.svc.state, d.svc.state.tickets[nxt], d.clock.now())
    assert fresh["estimated_wait_minutes"] == 10
    assert 1 <= later["estimated_wait_minutes"] <= 4
