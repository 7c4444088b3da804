"""A ticket's life and a window's day, through HallService.execute with a manual clock.

Every transition a clerk or a kiosk can make, and every refusal with its stable
error code; numbering, the daily reset at the hall's local midnight, daily caps
and idempotency keys.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from queue_server.commands import (
    CallNext,
    CancelTicket,
    CloseWindow,
    FinishService,
    IssueTicket,
    MoveClerk,
    NoShow,
    OpenWindow,
    PauseWindow,
    RateService,
    Recall,
    ResumeWindow,
    StartService,
    Transfer,
)
from queue_server.model import OUTCOMES
from tests.conftest import TZ

from .conftest import Driver, make_tiny


def local(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ).timestamp()


def ticket_state(drv: Driver, number: str) -> str:
    [t] = [t for t in drv.svc.state.tickets.values() if t.number == number]
    return t.state


# ------------------------------------------------------------------ the ticket's way


def test_waiting_called_serving_finished(tiny: Driver) -> None:
    issued = tiny.do(IssueTicket("A"), "kiosk:k1")
    assert issued["number"] == "A001" and issued["ahead"] == 0
    assert ticket_state(tiny, "A001") == "waiting"
    assert tiny.do(IssueTicket("A"), "kiosk:k1")["ahead"] == 1

    opened = tiny.do(OpenWindow(1, "k1"), "clerk:k1")
    assert opened["categories"] == ["A", "B"]
    win = tiny.svc.state.windows[1]
    assert (win.status, win.clerk) == ("open", "k1")

    tiny.clock.advance(300)
    called = tiny.do(CallNext(1), "clerk:k1")
    assert called["number"] == "A001" and called["window"] == 1
    assert called["waited_seconds"] == 300
    assert called["reason"] == "按取号顺序（已等待5分钟）"
    assert ticket_state(tiny, "A001") == "called"
    assert tiny.svc.state.windows[1].current == issued["ticket"]

    tiny.do(StartService(1), "clerk:k1")
    assert ticket_state(tiny, "A001") == "serving"
    tiny.clock.advance(600)
    finished = tiny.do(FinishService(1, "completed", "BJ2026-0001"), "clerk:k1")
    assert finished["service_seconds"] == 600
    t = tiny.svc.state.tickets[issued["ticket"]]
    assert (t.state, t.outcome, t.case_number, t.window, t.clerk) == ("finished", "completed", "BJ2026-0001", 1, "k1")
    assert tiny.svc.state.windows[1].current is None

    events = tiny.events()
    assert [e.type for e in events] == [
        "ticket.issued",
        "ticket.issued",
        "window.opened",
        "ticket.called",
        "ticket.started",
        "ticket.finished",
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.actor for e in events] == ["kiosk:k1", "kiosk:k1"] + ["clerk:k1"] * 4
    assert events[3].data["reason"] == called["reason"] and events[3].data["rule"] == "order"
    assert events[5].data["case_number"] == "BJ2026-0001"
    assert events[0].ts == "2026-11-23T09:00:00.000+08:00"


def serve_one(drv: Driver, window: int = 1) -> None:
    drv.do(CallNext(window))
    drv.do(StartService(window))


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_outcome_is_recorded(tiny: Driver, outcome: str) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    serve_one(tiny)
    result = tiny.do(FinishService(1, outcome))
    assert result["outcome"] == outcome
    assert "case_number" not in result  # optional: absent when not given
    [t] = tiny.svc.state.tickets.values()
    assert t.outcome == outcome and t.case_number is None


def test_outcome_labels_are_the_halls_words() -> None:
    assert [zh for zh, _en in OUTCOMES.values()] == [
        "办结",
        "受理（转后台审批）",
        "容缺受理",
        "一次性告知（补正）",
        "不予受理",
    ]


def test_finish_refusals(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    assert tiny.refused(FinishService(1)).code == "no_current_ticket"
    tiny.do(CallNext(1))
    err = tiny.refused(FinishService(1))
    assert err.code == "illegal_transition" and "先开始办理" in err.message
    tiny.do(StartService(1))
    err = tiny.refused(FinishService(1, "approved-ish"))
    assert (err.code, err.field, err.status) == ("bad_outcome", "outcome", 422)
    assert tiny.refused(FinishService(1, "completed", "x" * 65)).code == "bad_case_number"
    assert tiny.refused(FinishService(1, "completed", "")).code == "bad_case_number"
    tiny.do(FinishService(1, "accepted_pending", "RQ-7"))
    assert tiny.refused(StartService(1)).code == "no_current_ticket"


def test_no_show_and_recall_within_the_recall_time(tiny: Driver) -> None:
    first = tiny.do(IssueTicket("A"))
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(CallNext(1))

    shown = tiny.do(NoShow(1))
    assert shown["number"] == "A001"
    assert ticket_state(tiny, "A001") == "no_show"
    assert tiny.svc.state.windows[1].current is None
    assert tiny.refused(NoShow(1)).code == "no_current_ticket"
    assert tiny.refused(StartService(1)).code == "no_current_ticket"

    tiny.clock.advance(9 * 60)  # the citizen comes back within 10 minutes
    recalled = tiny.do(Recall(1, first["ticket"]))
    assert recalled["recall"] == 1
    t = tiny.svc.state.tickets[first["ticket"]]
    assert (t.state, t.window, len(t.recalls)) == ("called", 1, 1)
    tiny.do(StartService(1))
    tiny.do(FinishService(1))


def test_no_show_recall_expires(tiny: Driver) -> None:
    first = tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(CallNext(1))
    tiny.do(NoShow(1))
    tiny.clock.advance(10 * 60 + 1)
    err = tiny.refused(Recall(1, first["ticket"]))
    assert err.code == "recall_expired" and "10分钟" in err.message
    assert ticket_state(tiny, "A001") == "no_show"


def test_recall_time_is_configurable(driver_factory) -> None:
    drv = driver_factory(make_tiny(no_show_recall_minutes=30))
    first = drv.do(IssueTicket("A"))
    drv.do(OpenWindow(1, "k1"))
    drv.do(CallNext(1))
    drv.do(NoShow(1))
    drv.clock.advance(25 * 60)
    assert drv.do(Recall(1, first["ticket"]))["number"] == "A001"


def test_no_show_recall_only_at_its_own_idle_window(tiny: Driver) -> None:
    first = tiny.do(IssueTicket("A"))
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(OpenWindow(2, "k2"))
    tiny.do(CallNext(1))
    tiny.do(NoShow(1))
    err = tiny.refused(Recall(2, first["ticket"]))
    assert err.code == "illegal_transition" and "不是本窗口的过号票" in err.message
    tiny.do(CallNext(1))  # window 1 moved on to A002
    assert tiny.refused(Recall(1, first["ticket"])).code == "window_busy"
    tiny.do(NoShow(1))
    assert tiny.refused(Recall(1, "20261123-A999")).code == "unknown_ticket"
    # a paused window calls nobody, not even a no-show coming back; after resuming it may
    tiny.do(PauseWindow(1, "break"))
    assert tiny.refused(Recall(1, first["ticket"])).code == "window_paused"
    assert ticket_state(tiny, "A001") == "no_show"
    tiny.do(ResumeWindow(1))
    assert tiny.do(Recall(1, first["ticket"]))["number"] == "A001"


def test_recall_is_counted(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    assert tiny.refused(Recall(1)).code == "no_current_ticket"
    called = tiny.do(CallNext(1))
    assert tiny.do(Recall(1))["recall"] == 1
    tiny.clock.advance(30)
    assert tiny.do(Recall(1, called["ticket"]))["recall"] == 2  # naming the current ticket is the same
    t = tiny.svc.state.tickets[called["ticket"]]
    assert len(t.recalls) == 2 and t.state == "called"
    assert [e.data["recall"] for e in tiny.events() if e.type == "ticket.recalled"] == [1, 2]
    tiny.do(StartService(1))
    err = tiny.refused(Recall(1))
    assert err.code == "illegal_transition" and "办理中" in err.message


def test_start_only_a_called_ticket(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    assert tiny.refused(StartService(1)).code == "no_current_ticket"
    serve_one(tiny)
    assert tiny.refused(StartService(1)).code == "illegal_transition"
    assert tiny.refused(NoShow(1)).code == "illegal_transition"


def test_transfer_to_a_category_keeps_number_and_place(tiny: Driver) -> None:
    first = tiny.do(IssueTicket("A"))
    tiny.clock.advance(60)
    tiny.do(IssueTicket("C"))  # C001, issued after A001
    tiny.clock.advance(60)
    tiny.do(IssueTicket("C"))  # C002
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(OpenWindow(3, "k3"))
    tiny.do(CallNext(1))
    tiny.do(StartService(1))
    tiny.clock.advance(120)
    moved = tiny.do(Transfer(1, to_category="C"))
    assert (moved["from_category"], moved["to_category"], moved["keep_place"]) == ("A", "C", True)
    t = tiny.svc.state.tickets[first["ticket"]]
    assert (t.number, t.category, t.state, t.transfers, t.window) == ("A001", "C", "waiting", 1, None)
    assert tiny.svc.state.windows[1].current is None
    # A001 was issued before C001 and C002, so the tax window calls it first
    assert tiny.do(CallNext(3))["number"] == "A001"
    assert tiny.refused(CallNext(1)).code == "queue_empty"


def test_transfer_to_the_back_when_the_clerk_chooses(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.clock.advance(60)
    tiny.do(IssueTicket("C"))
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(OpenWindow(3, "k3"))
    tiny.do(CallNext(1))
    tiny.clock.advance(60)
    tiny.do(Transfer(1, to_category="C", keep_place=False))
    assert tiny.do(CallNext(3))["number"] == "C001"
    tiny.do(StartService(3))
    tiny.do(FinishService(3))
    assert tiny.do(CallNext(3))["number"] == "A001"


def test_transfer_to_a_window_goes_first_there_and_only_there(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(IssueTicket("A"))
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(OpenWindow(2, "k2"))
    tiny.do(OpenWindow(4, "k4"))
    tiny.do(CallNext(1))  # A001
    tiny.do(StartService(1))
    moved = tiny.do(Transfer(1, to_window=4))
    assert (moved["to_window"], moved["to_category"]) == (4, "A")
    assert tiny.do(CallNext(2))["number"] == "A002"  # window 2 cannot take a ticket sent to window 4
    called = tiny.do(CallNext(4))
    assert called["number"] == "A001" and called["rule"] == "transfer"
    assert called["reason"] == "转办至4号窗口，优先办理"
    assert tiny.svc.state.tickets[called["ticket"]].target_window is None


def test_transfer_refusals(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    assert tiny.refused(Transfer(1, to_category="C")).code == "no_current_ticket"
    tiny.do(CallNext(1))
    err = tiny.refused(Transfer(1))
    assert (err.code, err.field) == ("bad_transfer", "to_category")
    assert tiny.refused(Transfer(1, to_category="Z")).code == "unknown_category"
    assert tiny.refused(Transfer(1, to_window=99)).code == "unknown_window"
    err = tiny.refused(Transfer(1, to_window=3))  # window 3 does not serve A
    assert (err.code, err.field) == ("bad_transfer", "to_window")
    assert tiny.refused(Transfer(1, to_window=1)).code == "bad_transfer"
    assert tiny.do(Transfer(1, to_category="C", to_window=3))["to_window"] == 3


def test_cancel(tiny: Driver) -> None:
    a1 = tiny.do(IssueTicket("A"))
    a2 = tiny.do(IssueTicket("A"))
    a3 = tiny.do(IssueTicket("A"))
    tiny.do(CancelTicket(a2["ticket"]), "citizen")
    assert ticket_state(tiny, "A002") == "cancelled"
    assert tiny.refused(CancelTicket(a2["ticket"])).code == "illegal_transition"
    assert tiny.refused(CancelTicket("20261123-A404")).code == "unknown_ticket"
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(CallNext(1))
    err = tiny.refused(CancelTicket(a1["ticket"]))
    assert err.code == "illegal_transition" and "已呼叫" in err.message
    tiny.do(NoShow(1))
    tiny.do(CancelTicket(a1["ticket"]))  # a no-show may still be cancelled
    assert tiny.do(CallNext(1))["ticket"] == a3["ticket"]  # the cancelled A002 is skipped


def test_rating_after_the_service(tiny: Driver) -> None:
    a1 = tiny.do(IssueTicket("A"))
    assert tiny.refused(RateService(a1["ticket"], 5)).code == "illegal_transition"
    tiny.do(OpenWindow(1, "k1"))
    serve_one(tiny)
    tiny.do(FinishService(1))
    assert tiny.refused(RateService(a1["ticket"], 6)).code == "bad_rating"
    assert tiny.refused(RateService(a1["ticket"], 2, "很" * 501)).code == "bad_reason"
    rated = tiny.do(RateService(a1["ticket"], 2, "等候时间长"), "citizen")
    assert rated["label"] == "不满意" and rated["window"] == 1 and rated["clerk"] == "k1"
    assert tiny.refused(RateService(a1["ticket"], 5)).code == "already_rated"


# ------------------------------------------------------------------ the window's day


def test_window_open_pause_resume_close(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    err = tiny.refused(CallNext(1))
    assert (err.code, err.field) == ("window_closed", "window")
    tiny.do(OpenWindow(1, "k1"), "clerk:k1")
    paused = tiny.do(PauseWindow(1, "break", "为张三丰取材料 13812345678"), "clerk:k1")
    assert paused == paused | {"window": 1, "clerk": "k1", "reason": "break", "reason_zh": "临时离岗",
                               "reason_en": "Short break", "note": "为张三丰取材料 138****78"}
    win = tiny.svc.state.windows[1]
    assert (win.status, win.pause_reason, win.pause_note) == ("paused", "break", "为张三丰取材料 138****78")
    assert tiny.refused(CallNext(1)).code == "window_paused"
    assert tiny.refused(PauseWindow(1, "break")).code == "already_paused"
    tiny.do(ResumeWindow(1), "clerk:k1")
    assert (win.status, win.pause_reason, win.pause_note) == ("open", None, None)
    assert tiny.refused(ResumeWindow(1)).code == "not_paused"
    tiny.do(CloseWindow(1), "clerk:k1")
    assert (win.status, win.clerk) == ("closed", None)
    for cmd in (PauseWindow(1), ResumeWindow(1), CloseWindow(1), CallNext(1), NoShow(1), StartService(1)):
        assert tiny.refused(cmd).code == "window_closed"
    assert [e.type for e in tiny.events()][1:] == [
        "window.opened",
        "window.paused",
        "window.resumed",
        "window.closed",
    ]
    assert all(e.data["clerk"] == "k1" for e in tiny.events()[1:])


def test_a_paused_window_may_be_closed(tiny: Driver) -> None:
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(PauseWindow(1))
    tiny.do(CloseWindow(1))
    assert tiny.svc.state.windows[1].status == "closed"


def test_pause_needs_a_reason_and_an_idle_window(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    unknown = tiny.refused(PauseWindow(1, "为张三丰办理加急"))  # free text is no reason: the list is the hall's
    assert (unknown.code, unknown.field) == ("unknown_pause_reason", "reason")
    assert "临时离岗" in unknown.message and "break" in unknown.message
    assert tiny.refused(PauseWindow(1, "break", "因" * 101)).code == "bad_note"
    tiny.do(CallNext(1))
    err = tiny.refused(PauseWindow(1, "lunch"))
    assert err.code == "window_busy" and "A001" in err.message
    assert tiny.refused(CloseWindow(1)).code == "window_busy"
    assert tiny.refused(CallNext(1)).code == "window_busy"


def test_open_refusals(tiny: Driver) -> None:
    err = tiny.refused(OpenWindow(9, "k1"))
    assert (err.code, err.status) == ("unknown_window", 404)
    assert tiny.refused(OpenWindow(1, "nobody")).code == "unknown_clerk"
    assert tiny.refused(OpenWindow(1, "")).code == "bad_clerk"
    err = tiny.refused(OpenWindow(3, "k2"))  # k2 knows only A; window 3 serves C
    assert (err.code, err.field) == ("clerk_not_skilled", "clerk")
    tiny.do(OpenWindow(1, "k1"))
    assert tiny.refused(OpenWindow(1, "k1")).code == "already_open"
    assert tiny.refused(OpenWindow(1, "k4")).code == "window_taken"
    assert tiny.refused(OpenWindow(2, "k1")).code == "clerk_elsewhere"


def test_a_window_calls_only_what_its_clerk_knows(tiny: Driver) -> None:
    tiny.do(IssueTicket("B"))
    tiny.do(IssueTicket("C"))
    tiny.do(OpenWindow(4, "k2"))  # the all-matters window, but k2 knows only A
    assert tiny.refused(CallNext(4)).code == "queue_empty"
    tiny.do(IssueTicket("A"))
    assert tiny.do(CallNext(4))["number"] == "A001"


def test_move_clerk(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))
    tiny.do(OpenWindow(1, "k1"))
    tiny.do(CallNext(1))
    assert tiny.refused(MoveClerk("k1", 2)).code == "window_busy"
    tiny.do(StartService(1))
    tiny.do(FinishService(1))
    assert tiny.refused(MoveClerk("k1", 1)).code == "bad_move"
    assert tiny.refused(MoveClerk("k1", 3)).code == "clerk_not_skilled"
    moved = tiny.do(MoveClerk("k1", 2), "manager:m1")
    assert (moved["from_window"], moved["to_window"]) == (1, 2)
    assert tiny.svc.state.windows[1].status == "closed"
    assert (tiny.svc.state.windows[2].status, tiny.svc.state.windows[2].clerk) == ("open", "k1")
    tiny.do(OpenWindow(1, "k2"))
    assert tiny.refused(MoveClerk("k4", 1)).code == "window_taken"
    assert tiny.do(MoveClerk("k4", 4))["from_window"] is None  # a clerk not yet at a window starts there


# ------------------------------------------------------------------ numbers, days and caps


def test_numbers_per_category_never_duplicated(tiny: Driver) -> None:
    numbers = [tiny.do(IssueTicket(c))["number"] for c in "AACACB"]
    assert numbers == ["A001", "A002", "C001", "A003", "C002", "B001"]
    assert len({t.id for t in tiny.svc.state.tickets.values()}) == 6


def test_numbers_reset_at_the_halls_local_midnight(tiny: Driver) -> None:
    clock = tiny.clock
    clock.set(local(2026, 11, 23, 23, 59, 59))
    assert tiny.do(IssueTicket("A"))["number"] == "A001"
    clock.set(local(2026, 11, 24, 7, 59, 59))  # UTC midnight is 08:00 here: no reset there
    tiny.do(IssueTicket("A"))  # this is the first of the 24th
    clock.set(local(2026, 11, 24, 8, 0, 1))
    assert tiny.do(IssueTicket("A"))["number"] == "A002"
    clock.set(local(2026, 11, 25, 0, 0, 0))
    fresh = tiny.do(IssueTicket("A"))
    assert fresh["number"] == "A001" and fresh["ticket"] == "20261125-A001"
    ids = [e.data["ticket"] for e in tiny.events() if e.type == "ticket.issued"]
    assert ids == ["20261123-A001", "20261124-A001", "20261124-A002", "20261125-A001"]


def test_yesterdays_waiting_tickets_are_not_called_today(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"))  # left waiting when the hall closed
    tiny.do(OpenWindow(1, "k1"))
    tiny.clock.set(local(2026, 11, 24, 9, 0))
    assert tiny.refused(CallNext(1)).code == "queue_empty"
    today = tiny.do(IssueTicket("A"))
    assert today["number"] == "A001" and today["ahead"] == 0
    assert tiny.do(CallNext(1))["ticket"] == "20261124-A001"


def test_number_width_is_configurable(driver_factory) -> None:
    wide = driver_factory(make_tiny(ticket_number_width=5))
    assert wide.do(IssueTicket("C"))["number"] == "C00001"


def test_numbers_exhausted_for_the_day(driver_factory) -> None:
    narrow = driver_factory(make_tiny(ticket_number_width=2))
    numbers = [narrow.do(IssueTicket("A"))["number"] for _ in range(99)]
    assert numbers[0] == "A01" and numbers[-1] == "A99" and len(set(numbers)) == 99
    assert narrow.refused(IssueTicket("A")).code == "numbers_exhausted"
    assert narrow.do(IssueTicket("C"))["number"] == "C01"  # other categories still have numbers
    narrow.clock.set(local(2026, 11, 24, 9, 0))
    assert narrow.do(IssueTicket("A"))["number"] == "A01"


def test_daily_cap(tiny: Driver) -> None:
    for _ in range(3):
        tiny.do(IssueTicket("B"))
    err = tiny.refused(IssueTicket("B"))
    assert (err.code, err.field) == ("daily_cap_reached", "category")
    assert "号源已满（3个）" in err.message
    tiny.do(IssueTicket("A"))  # the cap is per category
    tiny.clock.set(local(2026, 11, 24, 9, 0))
    assert tiny.do(IssueTicket("B"))["number"] == "B001"


def test_issue_refusals(tiny: Driver) -> None:
    err = tiny.refused(IssueTicket("nope"))
    assert (err.code, err.field, err.status) == ("unknown_category", "category", 422)
    assert tiny.refused(IssueTicket("A", channel="fax")).code == "bad_channel"
    assert tiny.refused(IssueTicket("A", priority_group="vip")).code == "unknown_priority_group"
    now = tiny.clock.now()
    assert tiny.refused(IssueTicket("A", appointment_start=now)).code == "bad_appointment"
    assert tiny.refused(IssueTicket("A", appointment_start=now, appointment_end=now)).code == "bad_appointment"


# ------------------------------------------------------------------ idempotency


def test_idempotent_issue_returns_the_first_answer(tiny: Driver) -> None:
    first = tiny.do(IssueTicket("A"), "kiosk:k1", key="kiosk-1-0001")
    again = tiny.do(IssueTicket("A"), "kiosk:k1", key="kiosk-1-0001")
    assert again == first | {"replayed": True}
    assert "replayed" not in first
    assert len(tiny.events()) == 1
    assert tiny.do(IssueTicket("A"), "kiosk:k1", key="kiosk-1-0002")["number"] == "A002"


def test_a_key_is_refused_for_a_different_request(tiny: Driver) -> None:
    tiny.do(IssueTicket("A"), key="k-1")
    err = tiny.refused(IssueTicket("C"), key="k-1")
    assert (err.code, err.field, err.status) == ("idempotency_key_reused", "Idempotency-Key", 422)
    assert "Idempotency-Key" in err.message


def test_a_refused_command_does_not_use_up_its_key(tiny: Driver) -> None:
    tiny.do(OpenWindow(1, "k1"))
    assert tiny.refused(CallNext(1), key="call-1").code == "queue_empty"
    tiny.do(IssueTicket("A"))
    assert tiny.do(CallNext(1), key="call-1")["number"] == "A001"
    assert tiny.do(CallNext(1), key="call-1")["replayed"] is True  # a retried call does not call twice
    assert [e.type for e in tiny.events()].count("ticket.called") == 1
