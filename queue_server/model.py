"""The state of a hall and how each event changes it.

State is never changed directly: a command (see :mod:`queue_server.commands`)
produces one :class:`Event`, and :func:`apply_event` folds it into
:class:`HallState`. Replaying a hall's events from ``seq`` 1 therefore rebuilds
exactly the state the hall had, in any store and in any process.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

TicketState = Literal["waiting", "called", "serving", "suspended", "finished", "no_show", "cancelled", "expired"]
WindowStatus = Literal["closed", "open", "paused"]
Channel = Literal["kiosk", "phone", "appointment", "counter"]
CHANNELS: tuple[str, ...] = ("kiosk", "phone", "appointment", "counter")

# 办件结果: what a finished service ended with.
OUTCOMES: dict[str, tuple[str, str]] = {
    "completed": ("办结", "Completed"),
    "accepted": ("受理（转后台审批）", "Accepted for back-office approval"),
    "accepted_pending": ("容缺受理", "Accepted with materials to follow"),
    "supplement": ("一次性告知（补正）", "Told what to supply (one-time notice)"),
    "rejected": ("不予受理", "Not accepted"),
}
# 好差评: five levels, 5 = 非常满意 … 1 = 非常不满意.
RATING_LEVELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Fairly satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}
# 好差评 offline indicators besides the overall level (整体满意度 = ``level``).
RATING_INDICATORS: dict[str, tuple[str, str]] = {
    "level": ("整体满意度", "Overall satisfaction"),
    "efficiency": ("服务效率", "Efficiency"),
    "skill": ("服务水平", "Competence"),
    "attitude": ("服务态度", "Attitude"),
}
BAD_LEVELS: frozenset[int] = frozenset({1, 2})  # 不满意, 非常不满意: each opens a follow-up
GOOD_LEVELS: frozenset[int] = frozenset({3, 4, 5})  # 好评 in the 好差评 system
# 差评整改: a follow-up item goes 核实 → 整改 → 回访 → 办结.
FOLLOWUP_STAGES: dict[str, tuple[str, str]] = {
    "verify": ("核实", "Verify"),
    "rectify": ("整改", "Rectify"),
    "revisit": ("回访", "Call back"),
    "closed": ("办结", "Closed"),
}
BookingState = Literal["booked", "cancelled", "checked_in", "late"]
BOOKING_STATES: dict[str, tuple[str, str]] = {
    "booked": ("已预约", "Booked"),
    "cancelled": ("已取消", "Cancelled"),
    "checked_in": ("已签到", "Checked in"),
    "late": ("迟到，已转现场号", "Late: given a walk-in ticket"),
}
BOOKING_RETENTION_SECONDS = 366 * 86400  # bookings older than this leave the state
ACTIVE_AT_WINDOW: frozenset[str] = frozenset({"called", "serving"})
# 叫指定号: why a clerk called a chosen ticket instead of the policy's (the event carries the code and text).
CALL_REASONS: dict[str, tuple[str, str]] = {
    "returned": ("补齐材料回到窗口", "Came back with the missing documents"),
    "missed": ("过号后回到窗口", "Came back after missing the call"),
    "special": ("老弱病残孕等特殊情况", "Elderly, disabled, pregnant or ill"),
    "appointment": ("预约人员到场", "Appointment holder arrived"),
    "related": ("与上一位同办一件事", "Same matter as the previous citizen"),
    "instructed": ("值班长指示", "On the duty manager's instruction"),
    "other": ("其他（见备注）", "Other (see the note)"),
}
RECENT_SERVICES = 200


@dataclass(slots=True)
class Event:
    """One state change. ``seq`` is per hall, gap-free and increasing from 1."""

    seq: int
    hall: str
    ts: str  # ISO 8601 with the hall's UTC offset
    actor: str  # kiosk:<id> | device:<id> | clerk:<id> | manager:<id> | citizen | system
    type: str
    data: dict[str, Any]

    @property
    def at(self) -> float:
        return datetime.fromisoformat(self.ts).timestamp()

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        return cls(**json.loads(text))

    def as_dict(self) -> dict[str, Any]:
        """The event as a plain dict for JSON. ``data`` is shared, not copied (callers serialise it
        at once); built by hand: 0.2 µs instead of 17 µs with ``dataclasses.asdict``."""
        return {
            "seq": self.seq,
            "hall": self.hall,
            "ts": self.ts,
            "actor": self.actor,
            "type": self.type,
            "data": self.data,
        }


@dataclass(slots=True)
class Ticket:
    """A citizen's place in the hall. Carries numbers and times, never a name or phone."""

    id: str
    number: str
    category: str
    channel: str
    day: str
    issued_at: float
    order_at: float  # place in the queue: issue time, kept across a transfer
    priority_group: str | None = None
    appointment_start: float | None = None
    appointment_end: float | None = None
    state: TicketState = "waiting"
    window: int | None = None
    target_window: int | None = None  # transferred to one window (转办至指定窗口)
    clerk: str | None = None
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    no_show_at: float | None = None
    recalls: list[float] = field(default_factory=list)
    transfers: int = 0
    call_reason: str | None = None
    outcome: str | None = None
    case_number: str | None = None
    rating: int | None = None
    booking: str | None = None  # the booking code a check-in turned into this ticket
    phone_key: str | None = None  # keyed hash of the phone of a remote ticket (daily caps, check-in)
    person_key: str | None = None  # keyed hash of the ID number of a real-name kiosk ticket (per-person limit)
    arrived: bool = True  # a remote (phone) ticket is False until checked in at the kiosk
    suspended_at: float | None = None  # 挂起: set aside at its window while the citizen fetches a document
    suspended_seconds: float = 0.0  # time spent set aside, over all suspensions

    def public(self) -> dict[str, Any]:
        """What anyone may see of a ticket (boards, trackers): no personal data exists here."""
        return {
            "id": self.id,
            "number": self.number,
            "category": self.category,
            "channel": self.channel,
            "state": self.state,
            "window": self.window,
            "priority": self.priority_group is not None,
            "issued_at": self.issued_at,
            "called_at": self.called_at,
            "recalls": len(self.recalls),
            "arrived": self.arrived,
        }


@dataclass(slots=True)
class Booking:
    """An appointment (预约). ``person`` is a keyed hash of the ID number; name and phone are masked."""

    code: str
    category: str
    day: str
    slot_start: float
    slot_end: float
    person: str
    name: str
    phone: str
    made_at: float
    state: BookingState = "booked"
    ticket: str | None = None

    def view(self) -> dict[str, Any]:
        """What the citizen, the kiosk and the manager see: masked name and phone, never the hash."""
        return {
            "code": self.code,
            "category": self.category,
            "day": self.day,
            "slot_start": self.slot_start,
            "slot_end": self.slot_end,
            "name": self.name,
            "phone": self.phone,
            "state": self.state,
            "state_name": BOOKING_STATES[self.state][0],
            "ticket": self.ticket,
        }


@dataclass(slots=True)
class FollowUp:
    """差评整改: the follow-up of one bad rating, bound to its ticket and case number."""

    id: str
    ticket: str
    number: str
    category: str
    window: int | None
    clerk: str | None
    case_number: str | None
    level: int
    reason: str | None
    opened_at: float
    due: str  # the last day (ISO date) to close it: 15 working days out
    owner: str
    stage: str = "verify"
    notes: list[dict[str, Any]] = field(default_factory=list)  # {at, by, stage, text}
    appeal: str | None = None  # None | pending | upheld | rejected (申诉)
    appeal_reason: str | None = None
    closed_at: float | None = None

    def view(self) -> dict[str, Any]:
        return asdict(self) | {"stage_name": FOLLOWUP_STAGES[self.stage][0]}


@dataclass(slots=True)
class WindowState:
    number: int
    categories: tuple[str, ...]
    status: WindowStatus = "closed"
    clerk: str | None = None
    current: str | None = None  # ticket id being called or served
    pause_reason: str | None = None  # the id of one of the hall's pause_reasons
    pause_note: str | None = None  # the clerk's own words (masked): staff views only
    since: float | None = None  # when the status last changed
    profile_since: float | None = None  # when its categories last changed (window.profile_set)


@dataclass
class HallState:
    """Everything the hall knows right now, rebuilt from its events."""

    hall: str
    seq: int = 0
    day: str = ""
    counters: dict[str, int] = field(default_factory=dict)  # category prefix -> last number today
    tickets: dict[str, Ticket] = field(default_factory=dict)
    windows: dict[int, WindowState] = field(default_factory=dict)
    # Durations in seconds of the latest services per category (for wait estimates).
    recent_services: dict[str, deque[float]] = field(default_factory=dict)
    issued_today: dict[str, int] = field(default_factory=dict)  # category id -> count (daily caps)
    # Waiting tickets per category, in arrival order into the queue (kept by apply_event).
    queues: dict[str, dict[str, Ticket]] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)  # code -> booking
    slot_booked: dict[str, int] = field(default_factory=dict)  # slot_key(category, start) -> live bookings
    phone_issued_today: dict[str, int] = field(default_factory=dict)  # phone key -> remote tickets today
    person_issued_today: dict[str, int] = field(default_factory=dict)  # person key -> real-name tickets today
    followups: dict[str, FollowUp] = field(default_factory=dict)
    # Staffed spans of windows, [window, clerk, from, to or None while open]: the time on duty
    # that utilisation divides by (a window paused is still staffed). Spans older than a day
    # leave at the start of a new day.
    duty: list[list[Any]] = field(default_factory=list)

    def waiting(self, categories: Iterable[str] | None = None) -> list[Ticket]:
        """Waiting tickets, of ``categories`` only when given."""
        if categories is None:
            return [t for queue in self.queues.values() for t in queue.values()]
        return [t for c in categories for t in self.queues.get(c, {}).values()]

    def waiting_count(self, category: str) -> int:
        return len(self.queues.get(category, ()))

    def enqueue(self, ticket: Ticket) -> None:
        ticket.state = "waiting"
        self.queues.setdefault(ticket.category, {})[ticket.id] = ticket

    def dequeue(self, ticket: Ticket) -> None:
        self.queues.get(ticket.category, {}).pop(ticket.id, None)

    def clerk_window(self, clerk: str) -> WindowState | None:
        for win in self.windows.values():
            if win.clerk == clerk and win.status != "closed":
                return win
        return None


def slot_key(category: str, slot_start: float) -> str:
    return f"{category}|{slot_start:.0f}"


def _start_day(state: HallState, day: str, at: float) -> None:
    """A new local day: numbers restart; yesterday's finished and still-waiting tickets leave."""
    state.day = day
    state.duty = [span for span in state.duty if span[3] is None or span[3] > at - 86400]
    state.counters = {}
    state.issued_today = {}
    state.phone_issued_today = {}
    state.person_issued_today = {}
    for tid in [tid for tid, t in state.tickets.items() if t.day != day and t.state not in ACTIVE_AT_WINDOW]:
        state.dequeue(state.tickets.pop(tid))


def _off_duty(state: HallState, window: int, at: float) -> None:
    for span in state.duty:
        if span[0] == window and span[3] is None:
            span[3] = at


def _on_duty(state: HallState, window: int, clerk: str, at: float) -> None:
    _off_duty(state, window, at)  # a window opened again by another clerk ends the first span
    state.duty.append([window, clerk, at, None])


def apply_event(state: HallState, event: Event) -> None:
    """Fold one event into ``state``. Deterministic: the same events give the same state."""
    if event.seq != state.seq + 1:
        raise ValueError(f"event seq {event.seq} does not follow {state.seq} in hall {state.hall}")
    d = event.data
    at = event.at
    kind = event.type
    if kind == "ticket.issued":
        if d["day"] != state.day:
            _start_day(state, d["day"], at)
        t = Ticket(
            id=d["ticket"],
            number=d["number"],
            category=d["category"],
            channel=d["channel"],
            day=d["day"],
            issued_at=at,
            order_at=at,
            priority_group=d.get("priority_group"),
            appointment_start=d.get("appointment_start"),
            appointment_end=d.get("appointment_end"),
            booking=d.get("booking"),
            phone_key=d.get("phone_key"),
            person_key=d.get("person_key"),
            arrived=d.get("arrived", True),
        )
        state.tickets[t.id] = t
        state.enqueue(t)
        if t.phone_key:
            state.phone_issued_today[t.phone_key] = state.phone_issued_today.get(t.phone_key, 0) + 1
        if t.person_key:
            state.person_issued_today[t.person_key] = state.person_issued_today.get(t.person_key, 0) + 1
        if t.booking and t.booking in state.bookings:
            booking = state.bookings[t.booking]
            booking.state, booking.ticket = ("late" if d.get("late") else "checked_in"), t.id
        state.counters[d["prefix"]] = d["sequence"]
        state.issued_today[t.category] = state.issued_today.get(t.category, 0) + 1
    elif kind == "ticket.called":
        _expire(state, d.get("expired", ()))
        t = state.tickets[d["ticket"]]
        win = state.windows[d["window"]]
        state.dequeue(t)
        t.state, t.window, t.clerk, t.called_at = "called", win.number, win.clerk, at
        t.call_reason = d.get("reason")
        t.target_window = None
        win.current = t.id
    elif kind == "ticket.recalled":
        t = state.tickets[d["ticket"]]
        win = state.windows[d["window"]]
        if t.state == "no_show":  # a late citizen is taken back at the window
            t.state, t.no_show_at, t.window, t.clerk = "called", None, win.number, win.clerk
            win.current = t.id
        t.recalls.append(at)
    elif kind == "ticket.no_show":
        t = state.tickets[d["ticket"]]
        t.state, t.no_show_at = "no_show", at
        state.windows[d["window"]].current = None
    elif kind == "ticket.started":
        t = state.tickets[d["ticket"]]
        t.state, t.started_at = "serving", at
    elif kind == "ticket.finished":
        t = state.tickets[d["ticket"]]
        t.state, t.finished_at, t.outcome, t.case_number = "finished", at, d["outcome"], d.get("case_number")
        state.windows[d["window"]].current = None
        if t.started_at is not None:
            recent = state.recent_services.setdefault(t.category, deque(maxlen=RECENT_SERVICES))
            recent.append(at - t.started_at)
    elif kind == "ticket.suspended":
        t = state.tickets[d["ticket"]]
        t.state, t.suspended_at = "suspended", at
        state.windows[d["window"]].current = None
    elif kind == "ticket.resumed":
        t = state.tickets[d["ticket"]]
        win = state.windows[d["window"]]
        t.suspended_seconds += at - (t.suspended_at or at)
        t.state, t.suspended_at, t.window, t.clerk = "serving", None, win.number, win.clerk
        win.current = t.id
    elif kind == "ticket.transferred":
        t = state.tickets[d["ticket"]]
        state.windows[d["window"]].current = None
        t.category, t.target_window = d["to_category"], d.get("to_window")
        t.window = t.clerk = t.called_at = t.started_at = t.call_reason = None
        t.recalls = []
        t.transfers += 1
        if not d.get("keep_place", True):
            t.order_at = at
        state.enqueue(t)
    elif kind == "ticket.cancelled":
        t = state.tickets[d["ticket"]]
        state.dequeue(t)
        t.state = "cancelled"
    elif kind == "ticket.expired":
        _expire(state, d["tickets"])
    elif kind == "ticket.checked_in":
        state.tickets[d["ticket"]].arrived = True
    elif kind == "ticket.rated":
        state.tickets[d["ticket"]].rating = d["level"]
        if "followup" in d:
            f = d["followup"]
            state.followups[f["id"]] = FollowUp(
                id=f["id"],
                ticket=d["ticket"],
                number=d["number"],
                category=d["category"],
                window=d.get("window"),
                clerk=d.get("clerk"),
                case_number=d.get("case_number"),
                level=d["level"],
                reason=d.get("reason"),
                opened_at=at,
                due=f["due"],
                owner=f["owner"],
            )
    elif kind == "booking.made":
        b = Booking(
            code=d["booking"],
            category=d["category"],
            day=d["day"],
            slot_start=d["slot_start"],
            slot_end=d["slot_end"],
            person=d["person"],
            name=d["name"],
            phone=d["phone"],
            made_at=at,
        )
        for code in [c for c, old in state.bookings.items() if old.slot_end < at - BOOKING_RETENTION_SECONDS]:
            state.bookings.pop(code)
        state.bookings[b.code] = b
        key = slot_key(b.category, b.slot_start)
        state.slot_booked[key] = state.slot_booked.get(key, 0) + 1
    elif kind == "booking.cancelled":
        b = state.bookings[d["booking"]]
        b.state = "cancelled"
        key = slot_key(b.category, b.slot_start)
        state.slot_booked[key] = max(0, state.slot_booked.get(key, 0) - 1)
    elif kind.startswith("followup."):
        _apply_followup(state.followups[d["followup"]], kind, d, at, event.actor)
    elif kind == "window.opened":
        win = state.windows.setdefault(d["window"], WindowState(d["window"], tuple(d["categories"])))
        win.categories = tuple(d["categories"])
        win.status, win.clerk, win.since, win.pause_reason = "open", d["clerk"], at, None
        _on_duty(state, d["window"], d["clerk"], at)
    elif kind == "window.paused":
        win = state.windows[d["window"]]
        win.status, win.pause_reason, win.pause_note, win.since = "paused", d["reason"], d.get("note"), at
    elif kind == "window.resumed":
        win = state.windows[d["window"]]
        win.status, win.pause_reason, win.pause_note, win.since = "open", None, None, at
    elif kind == "window.closed":
        win = state.windows[d["window"]]
        win.status, win.clerk, win.pause_reason, win.since = "closed", None, None, at
        _off_duty(state, d["window"], at)
    elif kind == "window.profile_set":
        win = state.windows[d["window"]]
        win.categories, win.profile_since = tuple(d["categories"]), at
    elif kind == "clerk.moved":
        if d.get("from_window") is not None:
            old = state.windows[d["from_window"]]
            old.status, old.clerk, old.pause_reason, old.since = "closed", None, None, at
            _off_duty(state, d["from_window"], at)
        win = state.windows.setdefault(d["to_window"], WindowState(d["to_window"], tuple(d["categories"])))
        win.categories = tuple(d["categories"])
        win.status, win.clerk, win.since, win.pause_reason = "open", d["clerk"], at, None
        _on_duty(state, d["to_window"], d["clerk"], at)
    else:
        raise ValueError(f"unknown event type {kind!r}")
    state.seq = event.seq


def _expire(state: HallState, ticket_ids: Iterable[str]) -> None:
    """Remote tickets whose number came up before they checked in (过期)."""
    for tid in ticket_ids:
        t = state.tickets[tid]
        state.dequeue(t)
        t.state = "expired"


def _apply_followup(f: FollowUp, kind: str, d: dict[str, Any], at: float, actor: str) -> None:
    if d.get("note"):
        f.notes.append(
            {"at": at, "by": actor, "stage": f.stage, "kind": kind.removeprefix("followup."), "text": d["note"]}
        )
    if kind == "followup.advanced":
        f.stage = d["to"]
        if f.stage == "closed":
            f.closed_at = at
    elif kind == "followup.assigned":
        f.owner = d["owner"]
    elif kind == "followup.appealed":
        f.appeal, f.appeal_reason = "pending", d["reason"]
    elif kind == "followup.appeal_decided":
        f.appeal = "upheld" if d["upheld"] else "rejected"
        if d["upheld"]:  # an unfair rating: the item is closed and the rating leaves the good-rating rate
            f.stage, f.closed_at = "closed", at
    elif kind != "followup.noted":
        raise ValueError(f"unknown event type {kind!r}")
