"""The clerk's own commands beside 呼叫下一位, on both stores: 叫指定号 and 挂起/恢复办理.

叫指定号 (CallTicket) calls one chosen waiting ticket past the calling policy, with
a reason from :data:`CALL_REASONS` and a note, both kept in its ``ticket.called``
event (``rule: "chosen"``). 挂起 (SuspendTicket) sets the ticket being served aside;
恢复办理 (ResumeTicket) brings it back to a free window. Each test runs on the
embedded store and on a real redis-server, and checks the state rebuilt from the
stored events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from queue_server.commands import (
    CallNext,
    CallTicket,
    FinishService,
    IssueTicket,
    OpenWindow,
    PauseWindow,
    ResumeTicket,
    StartService,
    SuspendTicket,
)
from queue_server.config import Hall
from queue_server.console import desk
from queue_server.model import HallState, apply_event
from queue_server.stores.memory import MemoryStore
from queue_server.stores.redis import RedisStore

from .conftest import Driver


@pytest.fixture(params=["memory", "redis"])
def hall(request: pytest.FixtureRequest, driver_factory: Callable[..., Driver], tiny_hall: Hall) -> Driver:
    store: Any = MemoryStore() if request.param == "memory" else RedisStore(request.getfixturevalue("redis_url"))
    drv = driver_factory(tiny_hall, store)
    drv.do(OpenWindow(1, "k1"), "clerk:k1")
    return drv


def rebuilt(drv: Driver) -> HallState:
    state = HallState(drv.svc.hall.id)
    for e in drv.events():
        apply_event(state, e)
    return state


def number_of(drv: Driver, ticket: str) -> str:
    return drv.svc.state.tickets[ticket].number


def test_a_chosen_ticket_is_called_past_the_policy_with_its_reason_in_the_event(hall: Driver) -> None:
    first = hall.do(IssueTicket("A"))["ticket"]
    hall.clock.advance(60)
    chosen = hall.do(IssueTicket("B"))["ticket"]
    hall.clock.advance(120)
    called = hall.do(CallTicket(1, chosen, "returned", "回来交身份证复印件 13812345678"), "clerk:k1")
    assert called["number"] == "B001" and called["rule"] == "chosen" and called["waited_seconds"] == 120
    [event] = hall.events(hall.svc.state.seq - 1)
    assert event.type == "ticket.called" and event.actor == "clerk:k1"
    assert event.data["chosen_reason"] == "returned"
    assert event.data["note"] == "回来交身份证复印件 138****78"  # a phone typed into the note is masked
    assert event.data["reason"].startswith("指定呼叫：补齐材料回到窗口")
    state = rebuilt(hall)
    assert state.tickets[chosen].state == "called" and state.windows[1].current == chosen
    assert state.tickets[first].state == "waiting"  # the policy's choice still waits, first in line
    hall.do(StartService(1), "clerk:k1")
    hall.do(FinishService(1), "clerk:k1")
    assert hall.do(CallNext(1), "clerk:k1")["ticket"] == first


def test_a_chosen_call_is_refused_with_a_reason_the_clerk_can_act_on(hall: Driver) -> None:
    mine = hall.do(IssueTicket("A"))["ticket"]
    other = hall.do(IssueTicket("C"))["ticket"]  # window 1 serves A and B only
    assert hall.refused(CallTicket(1, mine, "because")).code == "bad_call_reason"
    assert hall.refused(CallTicket(1, mine, "other")).field == "note"  # 「其他」 needs a note
    assert hall.refused(CallTicket(1, other, "special")).code == "not_for_this_window"
    assert hall.refused(CallTicket(1, "20261123-A999", "special")).code == "unknown_ticket"
    hall.do(CallTicket(1, mine, "other", "值班长安排"), "clerk:k1")
    again = hall.do(IssueTicket("A"))["ticket"]
    assert hall.refused(CallTicket(1, again, "special")).code == "window_busy"
    assert hall.refused(CallTicket(1, mine, "special")).code == "window_busy"


def test_a_remote_ticket_not_checked_in_cannot_be_chosen(hall: Driver) -> None:
    remote = hall.do(IssueTicket("A", channel="phone"), "citizen")["ticket"]
    err = hall.refused(CallTicket(1, remote, "special"))
    assert err.code == "not_checked_in" and "尚未签到" in err.message


def test_a_paused_window_calls_no_chosen_ticket(hall: Driver) -> None:
    t = hall.do(IssueTicket("A"))["ticket"]
    hall.do(PauseWindow(1, "break"), "clerk:k1")
    assert hall.refused(CallTicket(1, t, "special")).code == "window_paused"


def test_suspend_frees_the_window_and_resume_brings_the_ticket_back_without_counting_the_time(hall: Driver) -> None:
    t = hall.do(IssueTicket("A"))["ticket"]
    nxt = hall.do(IssueTicket("A"))["ticket"]
    hall.do(CallNext(1), "clerk:k1")
    hall.do(StartService(1), "clerk:k1")
    hall.clock.advance(120)
    suspended = hall.do(SuspendTicket(1, "回去取户口本"), "clerk:k1")
    assert suspended["reason"] == "回去取户口本"
    state = rebuilt(hall)
    assert state.tickets[t].state == "suspended" and state.windows[1].current is None
    assert [x.id for x in state.waiting(["A"])] == [nxt]  # set aside, not back in the queue
    # the window serves the next citizen meanwhile
    assert hall.do(CallNext(1), "clerk:k1")["ticket"] == nxt
    assert hall.refused(ResumeTicket(1, t)).code == "window_busy"
    hall.do(StartService(1), "clerk:k1")
    hall.do(FinishService(1), "clerk:k1")
    hall.clock.advance(1500)  # 25 minutes off to fetch the document
    resumed = hall.do(ResumeTicket(1, t), "clerk:k1")
    assert resumed["suspended_seconds"] == 1500
    state = rebuilt(hall)
    assert state.tickets[t].state == "serving" and state.windows[1].current == t
    hall.clock.advance(180)
    finished = hall.do(FinishService(1), "clerk:k1")
    assert finished["service_seconds"] == 300  # 2 + 3 minutes at the window; the 25 minutes away are not service


def test_only_a_ticket_being_served_is_suspended_and_only_a_suspended_one_resumed(hall: Driver) -> None:
    t = hall.do(IssueTicket("A"))["ticket"]
    assert hall.refused(SuspendTicket(1)).code == "no_current_ticket"
    hall.do(CallNext(1), "clerk:k1")
    assert hall.refused(SuspendTicket(1)).code == "illegal_transition"  # called, not started
    assert hall.refused(ResumeTicket(1, t)).code == "window_busy"
    hall.do(StartService(1), "clerk:k1")
    assert hall.refused(SuspendTicket(1, " ")).field == "reason"
    hall.do(SuspendTicket(1), "clerk:k1")
    other = hall.do(IssueTicket("A"))["ticket"]
    assert hall.refused(ResumeTicket(1, other)).code == "illegal_transition"
    hall.do(OpenWindow(3, "k3"), "clerk:k3")  # window 3 serves C only
    assert hall.refused(ResumeTicket(3, t)).code == "not_for_this_window"


def test_the_desk_lists_the_queue_in_calling_order_with_suspended_tickets_and_served_today(hall: Driver) -> None:
    plain = hall.do(IssueTicket("A"))["ticket"]
    hall.clock.advance(60)
    elderly = hall.do(IssueTicket("B", priority_group="elderly"))["ticket"]
    hall.do(IssueTicket("C"))  # not for window 1
    hall.clock.advance(240)
    view = desk(hall.svc.hall, hall.svc.state, 1, hall.clock.now())
    assert [row["ticket"] for row in view["queue"]] == [elderly, plain]  # strict_priority: 老年人 first
    assert view["queue"][0]["priority"] == "老年人" and view["queue"][1]["waited_minutes"] == 5
    assert view["waiting"] == 2 and view["served_today"] == 0
    assert not any(k in row for row in view["queue"] for k in ("name", "phone", "phone_key", "person"))
    hall.do(CallNext(1), "clerk:k1")
    hall.do(StartService(1), "clerk:k1")
    hall.do(SuspendTicket(1), "clerk:k1")
    hall.do(CallNext(1), "clerk:k1")
    hall.do(StartService(1), "clerk:k1")
    hall.do(FinishService(1), "clerk:k1")
    view = desk(hall.svc.hall, hall.svc.state, 1, hall.clock.now())
    assert [s["ticket"] for s in view["suspended"]] == [elderly]
    assert view["queue"] == [] and view["served_today"] == 1
