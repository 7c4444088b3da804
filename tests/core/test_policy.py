"""Calling policies: which waiting ticket a window calls next, and the reason it gives.

``choose`` is tested directly on hand-made tickets (the rules in isolation) and
through HallService (the reason lands in the ``ticket.called`` event).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from queue_server.commands import (
    CallNext,
    IssueTicket,
    OpenWindow,
    StartService,
    Transfer,
    call_context,
)
from queue_server.config import Hall, Policy
from queue_server.model import Ticket, WindowState
from queue_server.policy import POLICIES, CallContext, choose

from .conftest import Driver, make_tiny

T0 = 1_800_000_000.0  # an arbitrary moment; tickets are placed minutes around it
MIN = 60.0


def ticket(
    number: str,
    at_min: float,
    category: str = "A",
    group: str | None = None,
    slot: tuple[float, float] | None = None,
    target: int | None = None,
    state: str = "waiting",
) -> Ticket:
    t = Ticket(
        id=f"d-{number}",
        number=number,
        category=category,
        channel="appointment" if slot else "kiosk",
        day="2026-11-23",
        issued_at=T0 + at_min * MIN,
        order_at=T0 + at_min * MIN,
        priority_group=group,
        target_window=target,
    )
    if slot is not None:
        t.appointment_start, t.appointment_end = T0 + slot[0] * MIN, T0 + slot[1] * MIN
    t.state = state  # type: ignore[assignment]
    return t


def ctx(hall: Hall, now_min: float, window: int = 1, clerk: str | None = "k1") -> CallContext:
    win = WindowState(window, tuple(hall.window_categories(window)), "open", clerk)
    return call_context(hall, win, T0 + now_min * MIN)


def pick(hall: Hall, tickets: Sequence[Ticket], now_min: float, window: int = 1, clerk: str | None = "k1") -> str:
    choice = choose(tickets, ctx(hall, now_min, window, clerk))
    assert choice is not None
    return choice.ticket.number


STRICT = make_tiny()
AGING = make_tiny(policy={"name": "weighted_aging", "max_wait_minutes": 45})


def test_both_policies_are_selectable_by_name() -> None:
    assert set(POLICIES) == {"strict_priority", "weighted_aging"}
    assert Policy().name == "weighted_aging"


# ------------------------------------------------------------------ eligibility (both policies)


@pytest.mark.parametrize("hall", [STRICT, AGING], ids=["strict", "aging"])
def test_only_the_windows_categories_and_the_clerks_skills(hall: Hall) -> None:
    tickets = [ticket("C001", 0, "C"), ticket("B001", 1, "B"), ticket("A001", 2, "A")]
    assert pick(hall, tickets, 5, window=1, clerk="k1") == "B001"  # window 1 serves A, B: not C
    assert pick(hall, tickets, 5, window=4, clerk="k2") == "A001"  # k2 knows only A at the all-matters window
    assert pick(hall, tickets, 5, window=3, clerk="k3") == "C001"
    assert pick(hall, tickets, 5, window=4, clerk="k4") == "C001"
    assert choose([ticket("C001", 0, "C")], ctx(hall, 5, window=1)) is None


@pytest.mark.parametrize("hall", [STRICT, AGING], ids=["strict", "aging"])
def test_only_waiting_tickets(hall: Hall) -> None:
    tickets = [
        ticket("A001", 0, state="called"),
        ticket("A002", 1, state="no_show"),
        ticket("A003", 2, state="cancelled"),
        ticket("A004", 3, state="finished"),
        ticket("A005", 4),
    ]
    assert pick(hall, tickets, 10) == "A005"


@pytest.mark.parametrize("hall", [STRICT, AGING], ids=["strict", "aging"])
def test_a_ticket_transferred_to_a_window_goes_there_first_and_nowhere_else(hall: Hall) -> None:
    sent = ticket("A009", 30, target=2)
    tickets = [ticket("A001", 0, group="elderly"), sent]
    assert pick(hall, tickets, 40, window=1) == "A001"
    choice = choose(tickets, ctx(hall, 40, window=2))
    assert choice is not None and choice.ticket is sent
    assert (choice.rule, choice.reason) == ("transfer", "转办至2号窗口，优先办理")
    # a ticket transferred to a window is taken there even for a category the window's clerk lacks
    assert pick(hall, [ticket("C001", 0, "C", target=2)], 1, window=2) == "C001"


# ------------------------------------------------------------------ strict_priority


def test_strict_first_come_first_served() -> None:
    tickets = [ticket("A003", 2), ticket("A001", 0), ticket("B001", 1, "B")]
    choice = choose(tickets, ctx(STRICT, 12))
    assert choice is not None and choice.ticket.number == "A001"
    assert (choice.rule, choice.reason) == ("order", "按取号顺序（已等待12分钟）")


def test_strict_priority_groups_by_level_then_order() -> None:
    tickets = [
        ticket("A001", 0),
        ticket("A002", 1, group="disabled"),
        ticket("A003", 2, group="elderly"),
        ticket("A004", 3, group="elderly"),
    ]
    order = []
    for _ in range(4):
        choice = choose(tickets, ctx(STRICT, 10))
        assert choice is not None
        order.append((choice.ticket.number, choice.rule, choice.reason))
        choice.ticket.state = "called"
    assert order == [
        ("A003", "priority", "老年人优先"),
        ("A004", "priority", "老年人优先"),
        ("A002", "priority", "残疾人优先"),
        ("A001", "order", "按取号顺序（已等待10分钟）"),
    ]


def test_strict_priority_waits_forever_behind_a_stream_of_priority_tickets() -> None:
    # strict means strict: the long-waiting ordinary ticket is still behind priority ones
    tickets = [ticket("A001", 0), ticket("A002", 100, group="disabled")]
    assert pick(STRICT, tickets, 120) == "A002"


def test_strict_appointment_keeps_its_slot() -> None:
    slot = (30, 45)  # 30–45 minutes after T0; served from 10 minutes early
    appt = ticket("A005", 5, slot=slot)
    tickets = [ticket("A001", 0, group="elderly"), appt]
    assert pick(STRICT, tickets, 19) == "A001"  # before the slot (minus 10 min): an ordinary ticket
    choice = choose(tickets, ctx(STRICT, 20))
    assert choice is not None and choice.ticket is appt
    assert (choice.rule, choice.reason) == ("appointment", "预约时段内，按预约优先办理")
    assert pick(STRICT, tickets, 45) == "A005"
    assert pick(STRICT, tickets, 46) == "A001"  # after its slot it is ordinary again
    assert pick(STRICT, [ticket("A001", 0), appt], 46) == "A001"


def test_strict_ties_by_issue_time_then_number() -> None:
    assert pick(STRICT, [ticket("A002", 0), ticket("A001", 0)], 1) == "A001"


# ------------------------------------------------------------------ weighted_aging


def test_aging_longest_wait_first() -> None:
    assert pick(AGING, [ticket("A002", 5), ticket("B001", 2, "B"), ticket("A003", 7)], 10) == "B001"


def test_aging_priority_is_a_head_start_not_a_trump() -> None:
    old = ticket("A001", 0)
    # elderly: 30 minutes head start
    assert pick(AGING, [old, ticket("A002", 25, group="elderly")], 30) == "A002"  # 5 + 30 > 30
    choice = choose([old, ticket("A002", 25, group="elderly")], ctx(AGING, 30))
    assert choice is not None and (choice.rule, choice.reason) == ("priority", "老年人优先")
    assert pick(AGING, [old, ticket("A002", 35, group="elderly")], 40) == "A001"  # 5 + 30 < 40


def test_aging_nobody_waits_beyond_the_bound() -> None:
    waited = ticket("A001", 0)
    tickets = [waited, ticket("A002", 44, group="elderly"), ticket("A003", 40, slot=(45, 60))]
    choice = choose(tickets, ctx(AGING, 45))
    assert choice is not None and choice.ticket is waited
    assert (choice.rule, choice.reason) == ("aging", "已等待45分钟，超过45分钟上限，优先呼叫")
    # one minute earlier the appointment in its slot (60 min head start) wins
    assert pick(AGING, tickets, 44) == "A003"


def test_aging_bound_is_configurable() -> None:
    patient = make_tiny(policy={"name": "weighted_aging", "max_wait_minutes": 90})
    tickets = [ticket("A001", 0), ticket("A002", 20, group="elderly")]
    assert pick(patient, tickets, 45) == "A002"  # 25 + 30 minutes beat 45
    assert pick(AGING, tickets, 45) == "A001"


def test_aging_appointment_head_start_only_in_slot() -> None:
    appt = ticket("A002", 0.5, slot=(100, 115))
    assert pick(AGING, [ticket("A001", 0), appt], 30) == "A001"
    later = ticket("A003", 95, slot=(100, 115))
    choice = choose([ticket("A001", 60), later], ctx(AGING, 95))  # waited 35 min vs 0 + 60 boost
    assert choice is not None and choice.ticket is later and choice.rule == "appointment"


# ------------------------------------------------------------------ through the hall


@pytest.mark.parametrize("name", ["strict_priority", "weighted_aging"])
def test_the_reason_goes_into_the_event(driver_factory, name: str) -> None:
    drv: Driver = driver_factory(make_tiny(policy={"name": name}))
    drv.do(IssueTicket("A"))
    drv.clock.advance(10 * MIN)
    drv.do(IssueTicket("A", priority_group="elderly"))
    drv.do(OpenWindow(1, "k1"))
    drv.clock.advance(MIN)
    called = drv.do(CallNext(1))
    assert called["number"] == "A002" and called["reason"] == "老年人优先"
    [event] = [e for e in drv.events() if e.type == "ticket.called"]
    assert (event.data["rule"], event.data["reason"]) == ("priority", "老年人优先")
    assert drv.svc.state.tickets[called["ticket"]].call_reason == "老年人优先"


def test_aging_through_the_hall(driver_factory) -> None:
    drv: Driver = driver_factory(AGING)
    drv.do(IssueTicket("A"))
    drv.clock.advance(44 * MIN)
    drv.do(IssueTicket("A", priority_group="elderly"))
    drv.do(OpenWindow(1, "k1"))
    drv.clock.advance(MIN)
    called = drv.do(CallNext(1))
    assert called["number"] == "A001" and called["rule"] == "aging" and "超过45分钟上限" in called["reason"]


def test_appointment_through_the_hall(driver_factory) -> None:
    drv: Driver = driver_factory(STRICT)
    now = drv.clock.now()
    drv.do(IssueTicket("A", priority_group="elderly"))
    drv.do(IssueTicket("A", channel="appointment", appointment_start=now + 30 * MIN, appointment_end=now + 45 * MIN))
    drv.do(OpenWindow(1, "k1"))
    drv.do(OpenWindow(2, "k2"))
    assert drv.do(CallNext(1))["number"] == "A001"  # the appointment's slot has not begun
    drv.clock.advance(25 * MIN)
    drv.do(IssueTicket("A", priority_group="elderly"))
    called = drv.do(CallNext(2))
    assert (called["number"], called["rule"]) == ("A002", "appointment")


def test_a_transferred_ticket_keeps_its_place_in_the_new_queue(driver_factory) -> None:
    drv: Driver = driver_factory(STRICT)
    drv.do(IssueTicket("A"))  # A001 at 09:00
    for _ in range(3):
        drv.clock.advance(MIN)
        drv.do(IssueTicket("C"))  # C001–C003 after it
    drv.do(OpenWindow(1, "k1"))
    drv.do(OpenWindow(3, "k3"))
    drv.do(CallNext(1))
    drv.do(StartService(1))
    drv.clock.advance(10 * MIN)
    drv.do(Transfer(1, to_category="C"))
    called = drv.do(CallNext(3))
    assert called["number"] == "A001" and called["reason"] == "按取号顺序（已等待13分钟）"
