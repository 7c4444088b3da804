"""Commands: what people and devices ask the hall to do.

:func:`decide` checks a command against the current :class:`HallState` and the
hall's configuration and returns the one event it produces plus the answer for
the caller, or raises :class:`CommandRejected` naming the problem. It changes
nothing; :class:`queue_server.hall.HallService` stores the event and applies it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from . import appointments
from .config import Hall
from .errors import CommandRejected
from .model import (
    ACTIVE_AT_WINDOW,
    BAD_LEVELS,
    CALL_REASONS,
    CHANNELS,
    FOLLOWUP_STAGES,
    OUTCOMES,
    RATING_LEVELS,
    Booking,
    FollowUp,
    HallState,
    Ticket,
    WindowState,
)
from .policy import CallContext, Choice, choose


@dataclass(frozen=True)
class Command:
    """Base of every command; ``name`` is the stable wire name (``call_next`` …)."""

    name = "command"

    def fingerprint(self) -> str:
        return f"{self.name}:{sorted(asdict(self).items())!r}"


@dataclass(frozen=True)
class IssueTicket(Command):
    name = "issue_ticket"
    category: str
    channel: str = "kiosk"
    priority_group: str | None = None
    appointment_start: float | None = None
    appointment_end: float | None = None
    phone_key: str | None = None  # keyed hash of a remote ticket's phone (never the number)
    person_key: str | None = None  # keyed hash of the ID number read at the kiosk (real-name ticket)


@dataclass(frozen=True)
class CallNext(Command):
    name = "call_next"
    window: int


@dataclass(frozen=True)
class CallTicket(Command):
    """叫指定号: call one chosen waiting ticket instead of the policy's choice, with a reason
    (a key of :data:`~queue_server.model.CALL_REASONS`) and an optional note, both kept in the event."""

    name = "call_ticket"
    window: int
    ticket: str
    reason: str
    note: str | None = None


@dataclass(frozen=True)
class SuspendTicket(Command):
    """挂起: set the ticket being served aside while the citizen fetches a document."""

    name = "suspend"
    window: int
    reason: str = "补齐材料"


@dataclass(frozen=True)
class ResumeTicket(Command):
    """恢复办理: a suspended ticket comes back to the window, being served again."""

    name = "resume_ticket"
    window: int
    ticket: str


@dataclass(frozen=True)
class Recall(Command):
    """Recall the window's current ticket (重呼), or a no-show ticket still within its recall time."""

    name = "recall"
    window: int
    ticket: str | None = None


@dataclass(frozen=True)
class NoShow(Command):
    name = "no_show"
    window: int


@dataclass(frozen=True)
class StartService(Command):
    name = "start"
    window: int


@dataclass(frozen=True)
class FinishService(Command):
    name = "finish"
    window: int
    outcome: str = "completed"
    case_number: str | None = None


@dataclass(frozen=True)
class Transfer(Command):
    """转办: the window's ticket goes to another category and/or one window, keeping its place."""

    name = "transfer"
    window: int
    to_category: str | None = None
    to_window: int | None = None
    keep_place: bool = True


@dataclass(frozen=True)
class CancelTicket(Command):
    name = "cancel"
    ticket: str


@dataclass(frozen=True)
class RateService(Command):
    """好差评: ``level`` is 整体满意度; efficiency, skill, attitude the other offline indicators.

    A level of 不满意 or 非常不满意 opens a follow-up item in the same event.
    """

    name = "rate"
    ticket: str
    level: int
    reason: str | None = None
    efficiency: int | None = None
    skill: int | None = None
    attitude: int | None = None


@dataclass(frozen=True)
class BookAppointment(Command):
    """预约: ``person`` is a keyed hash of the ID number; ``name`` and ``phone`` arrive masked."""

    name = "book"
    category: str
    slot_start: float
    person: str
    citizen_name: str
    phone: str


@dataclass(frozen=True)
class CancelBooking(Command):
    name = "cancel_booking"
    booking: str


@dataclass(frozen=True)
class CheckIn(Command):
    """预约签到 at the kiosk, by booking code or by the ID number's hash: issues the ticket."""

    name = "check_in"
    booking: str | None = None
    person: str | None = None


@dataclass(frozen=True)
class CheckInTicket(Command):
    """线上取号签到: a remote ticket becomes callable, found by ticket id or by the phone's hash."""

    name = "check_in_ticket"
    ticket: str | None = None
    phone_key: str | None = None


@dataclass(frozen=True)
class AdvanceFollowUp(Command):
    """Move a follow-up to its next stage (核实 → 整改 → 回访 → 办结) with a note of what was done."""

    name = "advance_followup"
    followup: str
    note: str


@dataclass(frozen=True)
class NoteFollowUp(Command):
    name = "note_followup"
    followup: str
    note: str


@dataclass(frozen=True)
class AssignFollowUp(Command):
    name = "assign_followup"
    followup: str
    owner: str


@dataclass(frozen=True)
class AppealRating(Command):
    """申诉: the window asks that an unfair rating be set aside."""

    name = "appeal_rating"
    followup: str
    reason: str


@dataclass(frozen=True)
class DecideAppeal(Command):
    name = "decide_appeal"
    followup: str
    upheld: bool
    note: str


@dataclass(frozen=True)
class OpenWindow(Command):
    name = "open_window"
    window: int
    clerk: str


@dataclass(frozen=True)
class PauseWindow(Command):
    name = "pause_window"
    window: int
    reason: str = "paused"  # the id of one of the hall's pause_reasons
    note: str | None = None  # the clerk's own words: staff feeds only


@dataclass(frozen=True)
class ResumeWindow(Command):
    name = "resume_window"
    window: int


@dataclass(frozen=True)
class CloseWindow(Command):
    name = "close_window"
    window: int


@dataclass(frozen=True)
class MoveClerk(Command):
    """Move a clerk to another window (调岗): the old window closes, the new one opens with them."""

    name = "move_clerk"
    clerk: str
    to_window: int


@dataclass(frozen=True)
class SetWindowProfile(Command):
    """工作模式: which categories an open window calls — any its clerk is skilled for, or its
    configured ones. Nobody walks: the cheapest rebalancing action. It lasts until the window
    closes (a window that opens again calls its configured categories)."""

    name = "set_window_profile"
    window: int
    categories: tuple[str, ...]


COMMANDS: dict[str, type[Command]] = {
    c.name: c
    for c in (
        IssueTicket,
        CallNext,
        CallTicket,
        SuspendTicket,
        ResumeTicket,
        Recall,
        NoShow,
        StartService,
        FinishService,
        Transfer,
        CancelTicket,
        RateService,
        OpenWindow,
        PauseWindow,
        ResumeWindow,
        CloseWindow,
        MoveClerk,
        SetWindowProfile,
        BookAppointment,
        CancelBooking,
        CheckIn,
        CheckInTicket,
        AdvanceFollowUp,
        NoteFollowUp,
        AssignFollowUp,
        AppealRating,
        DecideAppeal,
    )
}


@dataclass(frozen=True)
class Decision:
    """The one event a command produces (type and data) and what the caller is told."""

    type: str
    data: dict[str, Any]
    result: dict[str, Any]


def command_fields(cls: type[Command]) -> list[str]:
    return [f.name for f in fields(cls)]


# ---------------------------------------------------------------- helpers


def _reject(code: str, message: str, field: str | None = None, status: int = 409) -> CommandRejected:
    return CommandRejected(code, message, field, status)


def _window(hall: Hall, state: HallState, number: int) -> WindowState:
    try:
        cfg_categories = hall.window_categories(number)
    except KeyError:
        raise _reject("unknown_window", f"没有{number}号窗口 (no window {number})", "window", 404) from None
    return state.windows.get(number) or WindowState(number, tuple(cfg_categories))


def _ticket(state: HallState, ticket_id: str) -> Ticket:
    t = state.tickets.get(ticket_id)
    if t is None:
        raise _reject("unknown_ticket", f"找不到票号 {ticket_id} (no such ticket)", "ticket", 404)
    return t


def _open_window(hall: Hall, state: HallState, number: int) -> WindowState:
    win = _window(hall, state, number)
    if win.status == "closed":
        raise _reject("window_closed", f"{number}号窗口未开启，请先登录窗口 (window {number} is closed)", "window")
    return win


def _current(state: HallState, win: WindowState, want: frozenset[str] = ACTIVE_AT_WINDOW) -> Ticket:
    if win.current is None:
        raise _reject("no_current_ticket", f"{win.number}号窗口当前没有票号 (window {win.number} has no ticket)")
    t = state.tickets[win.current]
    if t.state not in want:
        raise _reject(
            "illegal_transition",
            f"{t.number}号当前状态为{_STATE_ZH[t.state]}，不能执行此操作 (ticket is {t.state})",
        )
    return t


def _busy(state: HallState, win: WindowState) -> None:
    if win.current is not None:
        t = state.tickets[win.current]
        raise _reject(
            "window_busy",
            f"{win.number}号窗口的{t.number}号尚未办结，请先办结、过号或转办"
            f" (window {win.number} still has {t.number})",
        )


_STATE_ZH = {
    "waiting": "等待中",
    "called": "已呼叫",
    "serving": "办理中",
    "suspended": "已挂起",
    "finished": "已办结",
    "no_show": "过号",
    "cancelled": "已取消",
    "expired": "已过期",
}


def serving_categories(hall: Hall, win: WindowState) -> frozenset[str]:
    """The window's categories that its clerk is skilled for (all of them for an unlisted clerk)."""
    cats = frozenset(win.categories)
    if win.clerk is None or not hall.clerks:
        return cats
    try:
        skills = hall.clerk(win.clerk).skills
    except KeyError:
        return cats
    return cats & frozenset(skills)


def call_context(hall: Hall, win: WindowState, now: float) -> CallContext:
    return CallContext(
        now=now,
        window=win.number,
        categories=serving_categories(hall, win),
        policy=hall.policy,
        groups={g.id: g for g in hall.priority_groups},
    )


_LONG_NUMBER = re.compile(r"\d[\d\s-]{5,}[\dXx]")


def mask_numbers(text: str) -> str:
    """Free text with phone and ID numbers masked (a citizen may type theirs into a reason)."""
    return _LONG_NUMBER.sub(lambda m: m.group()[:3] + "****" + m.group()[-2:], text)


def _local(hall: Hall, now: float) -> datetime:
    return datetime.fromtimestamp(now, hall.tz)


# ---------------------------------------------------------------- decide


def decide(hall: Hall, state: HallState, cmd: Command, now: float) -> Decision:
    """Check ``cmd`` against ``state``; return its event and result, or raise CommandRejected."""
    handler = _HANDLERS.get(type(cmd))
    if handler is None:
        raise _reject("unknown_command", f"unknown command {cmd.name!r}", status=400)
    return handler(hall, state, cmd, now)


def _issue(hall: Hall, state: HallState, cmd: IssueTicket, now: float) -> Decision:
    try:
        cat = hall.category(cmd.category)
    except KeyError:
        raise _reject(
            "unknown_category", f"没有事项类别 {cmd.category!r} (unknown category)", "category", 422
        ) from None
    if cmd.channel not in CHANNELS:
        raise _reject("bad_channel", f"channel must be one of {', '.join(CHANNELS)}", "channel", 422)
    if cmd.priority_group is not None and cmd.priority_group not in {g.id for g in hall.priority_groups}:
        raise _reject(
            "unknown_priority_group",
            f"没有优先群体 {cmd.priority_group!r} (unknown priority group)",
            "priority_group",
            422,
        )
    if (cmd.appointment_start is None) != (cmd.appointment_end is None):
        raise _reject("bad_appointment", "appointment_start and appointment_end go together", "appointment_start", 422)
    if (
        cmd.appointment_start is not None
        and cmd.appointment_end is not None
        and (cmd.appointment_end <= cmd.appointment_start)
    ):
        raise _reject("bad_appointment", "appointment_end must be after appointment_start", "appointment_end", 422)
    extra: dict[str, Any] = {}
    if cmd.priority_group:
        extra["priority_group"] = cmd.priority_group
    if cmd.appointment_start is not None:
        extra["appointment_start"] = cmd.appointment_start
        extra["appointment_end"] = cmd.appointment_end
    if cmd.channel == "phone":
        extra |= _remote(hall, state, cmd, now)
    if cmd.person_key is not None:
        extra["person_key"] = _real_name(hall, state, cmd.person_key, now)
    return _new_ticket(hall, state, cat.id, cmd.channel, now, extra)


def _remote(hall: Hall, state: HallState, cmd: IssueTicket, now: float) -> dict[str, Any]:
    """A remote ticket waits for check-in; one phone takes at most ``per_phone_per_day`` a day."""
    cfg = hall.remote_tickets
    if not cfg.enabled:
        raise _reject("remote_disabled", "本大厅未开通线上取号 (remote tickets are not offered)", "channel", 422)
    out: dict[str, Any] = {"arrived": False}
    if cmd.phone_key is not None:
        today = _local(hall, now).date().isoformat() == state.day
        taken = state.phone_issued_today.get(cmd.phone_key, 0) if today else 0
        if taken >= cfg.per_phone_per_day:
            raise _reject(
                "phone_cap_reached",
                f"该手机号今日已线上取号{taken}次，已达上限"
                f" (this phone reached today's limit of {cfg.per_phone_per_day})",
                "phone",
                429,
            )
        out["phone_key"] = cmd.phone_key
    return out


def _real_name(hall: Hall, state: HallState, person_key: str, now: float) -> str:
    """A real-name ticket (ID card read at the kiosk): one person takes at most ``kiosk.per_person_per_day``."""
    limit = hall.kiosk.per_person_per_day
    today = _local(hall, now).date().isoformat() == state.day
    taken = state.person_issued_today.get(person_key, 0) if today else 0
    if taken >= limit:
        raise _reject(
            "person_cap_reached",
            f"您今日已取号{taken}次，已达每人每日上限，如需帮助请咨询导办人员"
            f" (you reached today's limit of {limit} tickets per person)",
            "id_number",
            429,
        )
    return person_key


def _new_ticket(
    hall: Hall, state: HallState, category: str, channel: str, now: float, extra: dict[str, Any]
) -> Decision:
    """The ``ticket.issued`` decision: next number of the day, daily cap checked."""
    cat = hall.category(category)
    local = _local(hall, now)
    day = local.date().isoformat()
    same_day = day == state.day
    issued = state.issued_today.get(cat.id, 0) if same_day else 0
    if cat.daily_cap is not None and issued >= cat.daily_cap:
        raise _reject(
            "daily_cap_reached",
            f"{cat.name}今日号源已满（{cat.daily_cap}个），请改日办理或网上办理"
            " (today's tickets for this category are gone)",
            "category",
        )
    sequence = (state.counters.get(cat.prefix, 0) if same_day else 0) + 1
    if sequence >= 10**hall.ticket_number_width:
        raise _reject("numbers_exhausted", f"{cat.prefix} 类今日票号已用完 (no numbers left today)", "category")
    number = f"{cat.prefix}{sequence:0{hall.ticket_number_width}d}"
    ticket_id = f"{local:%Y%m%d}-{number}"
    ahead = state.waiting_count(cat.id) if same_day else 0
    data: dict[str, Any] = {
        "ticket": ticket_id,
        "number": number,
        "category": cat.id,
        "prefix": cat.prefix,
        "sequence": sequence,
        "day": day,
        "channel": channel,
    } | extra
    result = {"ticket": ticket_id, "number": number, "category": cat.id, "ahead": ahead}
    for key in ("booking", "late", "arrived", "appointment_start", "appointment_end"):
        if key in extra:
            result[key] = extra[key]
    return Decision("ticket.issued", data, result)


def _ready_to_call(hall: Hall, state: HallState, number: int) -> WindowState:
    """An open, unpaused window with nobody at it: one that may call (or take back) a citizen."""
    win = _open_window(hall, state, number)
    if win.status == "paused":
        raise _reject("window_paused", f"{win.number}号窗口暂停中，请先恢复 (window is paused)", "window")
    _busy(state, win)
    return win


def _call_next(hall: Hall, state: HallState, cmd: CallNext, now: float) -> Decision:
    win = _ready_to_call(hall, state, cmd.window)
    # Only today's tickets: yesterday's leftovers stay until the first ticket of the day clears them.
    today = _local(hall, now).date().isoformat()
    todays = (t for t in state.waiting(win.categories) if t.day == today)
    choice, expired = next_arrived(todays, call_context(hall, win, now))
    if choice is None:
        if expired:
            data = {"tickets": [t.id for t in expired], "numbers": [t.number for t in expired], "window": win.number}
            return Decision("ticket.expired", data, data | {"ticket": None, "expired": data["tickets"]})
        raise _reject("queue_empty", "当前没有可呼叫的等候人员 (nobody is waiting for this window)")
    t = choice.ticket
    data = {
        "ticket": t.id,
        "number": t.number,
        "category": t.category,
        "window": win.number,
        "rule": choice.rule,
        "reason": choice.reason,
    }
    if expired:
        data["expired"] = [e.id for e in expired]
    return Decision("ticket.called", data, data | {"waited_seconds": round(now - t.order_at)})


def next_arrived(waiting: Iterable[Ticket], ctx: CallContext) -> tuple[Choice | None, list[Ticket]]:
    """The policy's choice among tickets whose holder is here, and the remote tickets passed over.

    :func:`~queue_server.policy.choose` decides as always; when it picks a remote ticket
    that was never checked in, that ticket's number has come up: it expires, and the
    policy chooses again among the rest.
    """
    expired: list[Ticket] = []
    candidates = list(waiting)
    while True:
        choice = choose(candidates, ctx)
        if choice is None or choice.ticket.arrived:
            return choice, expired
        expired.append(choice.ticket)
        candidates = [t for t in candidates if t.id != choice.ticket.id]


def _call_ticket(hall: Hall, state: HallState, cmd: CallTicket, now: float) -> Decision:
    win = _ready_to_call(hall, state, cmd.window)
    if cmd.reason not in CALL_REASONS:
        raise _reject(
            "bad_call_reason", f"指定呼叫原因须为 {', '.join(CALL_REASONS)} 之一 (unknown reason)", "reason", 422
        )
    note = mask_numbers(cmd.note.strip()) if cmd.note else ""
    if len(note) > 200:
        raise _reject("bad_note", "备注不超过200字 (a note of at most 200 characters)", "note", 422)
    if cmd.reason == "other" and not note:
        raise _reject("bad_note", "原因为「其他」时请填写备注 (say why in the note)", "note", 422)
    t = _ticket(state, cmd.ticket)
    if t.state != "waiting" or t.day != _local(hall, now).date().isoformat():
        raise _reject("illegal_transition", f"{t.number}号当前不在等候中，不能呼叫 (ticket is {t.state})", "ticket")
    if not (t.category in serving_categories(hall, win) if t.target_window is None else t.target_window == win.number):
        raise _reject(
            "not_for_this_window", f"{t.number}号不属于本窗口受理范围 (this window does not serve it)", "ticket"
        )
    if not t.arrived:
        raise _reject("not_checked_in", f"{t.number}号为线上取号，尚未签到 (not checked in yet)", "ticket")
    zh = CALL_REASONS[cmd.reason][0]
    data = {
        "ticket": t.id,
        "number": t.number,
        "category": t.category,
        "window": win.number,
        "clerk": win.clerk,
        "rule": "chosen",
        "reason": f"指定呼叫：{zh}" + (f"（{note}）" if note else ""),
        "chosen_reason": cmd.reason,
    }
    if note:
        data["note"] = note
    return Decision("ticket.called", data, data | {"waited_seconds": round(now - t.order_at)})


def _suspend(hall: Hall, state: HallState, cmd: SuspendTicket, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    t = _current(state, win)
    if t.state != "serving":
        raise _reject("illegal_transition", f"{t.number}号尚未开始办理，不能挂起 (start the service first)")
    reason = cmd.reason.strip()
    if not 1 <= len(reason) <= 100:
        raise _reject("bad_reason", "挂起原因为1–100字 (reason must be 1–100 characters)", "reason", 422)
    data = _at_window(win, t) | {"reason": mask_numbers(reason)}
    return Decision("ticket.suspended", data, data)


def _resume_ticket(hall: Hall, state: HallState, cmd: ResumeTicket, now: float) -> Decision:
    win = _ready_to_call(hall, state, cmd.window)
    t = _ticket(state, cmd.ticket)
    if t.state != "suspended" or t.suspended_at is None:
        raise _reject("illegal_transition", f"{t.number}号未挂起，不能恢复办理 (ticket is not suspended)", "ticket")
    if t.window != win.number and t.category not in serving_categories(hall, win):
        raise _reject(
            "not_for_this_window", f"{t.number}号不属于本窗口受理范围 (this window does not serve it)", "ticket"
        )
    data = _at_window(win, t) | {"from_window": t.window, "suspended_seconds": round(now - t.suspended_at)}
    return Decision("ticket.resumed", data, data)


def _recall(hall: Hall, state: HallState, cmd: Recall, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    if cmd.ticket is None or (win.current is not None and cmd.ticket == win.current):
        t = _current(state, win, frozenset({"called"}))
    else:
        t = _ticket(state, cmd.ticket)
        _busy(state, win)
        if win.status == "paused":  # bringing a no-show back is a new call: a paused window calls nobody
            raise _reject("window_paused", f"{win.number}号窗口暂停中，请先恢复 (window is paused)", "window")
        if t.state != "no_show" or t.window != win.number:
            raise _reject(
                "illegal_transition", f"{t.number}号不是本窗口的过号票，不能重呼 (not a no-show of this window)"
            )
        limit = hall.no_show_recall_minutes * 60
        if t.no_show_at is not None and now - t.no_show_at > limit:
            raise _reject(
                "recall_expired",
                f"{t.number}号过号已超过{hall.no_show_recall_minutes:g}分钟，请重新取号 (too late to recall)",
            )
    data = {"ticket": t.id, "number": t.number, "window": win.number, "recall": len(t.recalls) + 1}
    return Decision("ticket.recalled", data, data)


def _at_window(win: WindowState, t: Ticket) -> dict[str, Any]:
    return {"ticket": t.id, "number": t.number, "category": t.category, "window": win.number, "clerk": win.clerk}


def _no_show(hall: Hall, state: HallState, cmd: NoShow, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    t = _current(state, win, frozenset({"called"}))
    data = _at_window(win, t)
    return Decision("ticket.no_show", data, data)


def _start(hall: Hall, state: HallState, cmd: StartService, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    t = _current(state, win, frozenset({"called"}))
    data = _at_window(win, t)
    return Decision("ticket.started", data, data)


def _finish(hall: Hall, state: HallState, cmd: FinishService, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    if cmd.outcome not in OUTCOMES:
        raise _reject("bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}", "outcome", 422)
    if cmd.case_number is not None and not (0 < len(cmd.case_number) <= 64):
        raise _reject("bad_case_number", "办件编号 must be 1–64 characters", "case_number", 422)
    t = _current(state, win)
    if t.state != "serving":
        raise _reject("illegal_transition", f"{t.number}号尚未开始办理，请先开始办理 (start the service first)")
    data = _at_window(win, t) | {"outcome": cmd.outcome}
    if cmd.case_number:
        data["case_number"] = cmd.case_number
    if t.started_at is not None:  # time set aside (挂起) is not service
        data["service_seconds"] = round(now - t.started_at - t.suspended_seconds)
    return Decision("ticket.finished", data, data)


def _transfer(hall: Hall, state: HallState, cmd: Transfer, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    t = _current(state, win)
    to_category = cmd.to_category or t.category
    if cmd.to_category is None and cmd.to_window is None:
        raise _reject(
            "bad_transfer", "转办需指定目标事项类别或窗口 (give to_category or to_window)", "to_category", 422
        )
    try:
        hall.category(to_category)
    except KeyError:
        raise _reject(
            "unknown_category", f"没有事项类别 {to_category!r} (unknown category)", "to_category", 422
        ) from None
    if cmd.to_window is not None:
        try:
            target_cats = hall.window_categories(cmd.to_window)
        except KeyError:
            raise _reject("unknown_window", f"没有{cmd.to_window}号窗口 (no such window)", "to_window", 422) from None
        live = state.windows.get(cmd.to_window)
        if live is not None:
            target_cats = list(live.categories)
        if to_category not in target_cats:
            raise _reject(
                "bad_transfer",
                f"{cmd.to_window}号窗口不受理该事项 (window does not serve {to_category})",
                "to_window",
                422,
            )
        if cmd.to_window == win.number:
            raise _reject("bad_transfer", "不能转办给本窗口 (cannot transfer to the same window)", "to_window", 422)
    data = _at_window(win, t) | {
        "from_category": t.category,
        "to_category": to_category,
        "to_window": cmd.to_window,
        "keep_place": cmd.keep_place,
    }
    return Decision("ticket.transferred", data, data)


def _cancel(hall: Hall, state: HallState, cmd: CancelTicket, now: float) -> Decision:
    t = _ticket(state, cmd.ticket)
    if t.state not in ("waiting", "no_show"):
        raise _reject("illegal_transition", f"{t.number}号当前{_STATE_ZH[t.state]}，不能取消 (ticket is {t.state})")
    data = {"ticket": t.id, "number": t.number, "category": t.category}
    return Decision("ticket.cancelled", data, data)


def _rate(hall: Hall, state: HallState, cmd: RateService, now: float) -> Decision:
    t = _ticket(state, cmd.ticket)
    if cmd.level not in RATING_LEVELS:
        raise _reject("bad_rating", "评价等级为 1–5 (level must be 1 to 5)", "level", 422)
    if t.state != "finished":
        raise _reject("illegal_transition", f"{t.number}号尚未办结，不能评价 (rate after the service)")
    if t.rating is not None:
        raise _reject("already_rated", f"{t.number}号已评价 (this service was already rated)")
    if cmd.reason is not None and len(cmd.reason) > 500:
        raise _reject("bad_reason", "原因不超过500字 (reason is limited to 500 characters)", "reason", 422)
    for name in ("efficiency", "skill", "attitude"):
        value = getattr(cmd, name)
        if value is not None and value not in RATING_LEVELS:
            raise _reject("bad_rating", f"{name} 评价等级为 1–5 (must be 1 to 5)", name, 422)
    data: dict[str, Any] = {
        "ticket": t.id,
        "number": t.number,
        "category": t.category,
        "window": t.window,
        "clerk": t.clerk,
        "level": cmd.level,
        "case_number": t.case_number,
    }
    if cmd.reason:
        data["reason"] = mask_numbers(cmd.reason)
    for name in ("efficiency", "skill", "attitude"):
        if getattr(cmd, name) is not None:
            data[name] = getattr(cmd, name)
    if cmd.level in BAD_LEVELS:
        # The follow-up opens in the rating's own event: no bad rating can exist without it.
        due = hall.hours.add_working_days(_local(hall, now).date(), hall.followups.due_working_days)
        data["followup"] = {"id": f"FU-{t.id}", "due": due.isoformat(), "owner": hall.followups.owner}
    return Decision("ticket.rated", data, data | {"label": RATING_LEVELS[cmd.level][0]})


def _check_clerk(hall: Hall, clerk: str, categories: list[str], window: int) -> None:
    if not clerk or len(clerk) > 40:
        raise _reject("bad_clerk", "clerk id must be 1–40 characters", "clerk", 422)
    if not hall.clerks:
        return
    try:
        skills = hall.clerk(clerk).skills
    except KeyError:
        raise _reject("unknown_clerk", f"没有工作人员 {clerk!r} (unknown clerk)", "clerk", 404) from None
    if not set(skills) & set(categories):
        raise _reject(
            "clerk_not_skilled",
            f"{hall.clerk(clerk).name}不具备{window}号窗口事项的受理资质 (clerk has no skill for this window)",
            "clerk",
        )


def _open(hall: Hall, state: HallState, cmd: OpenWindow, now: float) -> Decision:
    win = _window(hall, state, cmd.window)
    _check_clerk(hall, cmd.clerk, list(win.categories), win.number)
    if win.status != "closed":
        if win.clerk == cmd.clerk:
            raise _reject("already_open", f"{win.number}号窗口已开启 (window already open)")
        raise _reject("window_taken", f"{win.number}号窗口已由其他工作人员登录 (window is in use)", "window")
    elsewhere = state.clerk_window(cmd.clerk)
    if elsewhere is not None:
        raise _reject(
            "clerk_elsewhere", f"该工作人员已在{elsewhere.number}号窗口登录 (clerk is at another window)", "clerk"
        )
    data = {"window": win.number, "clerk": cmd.clerk, "categories": list(win.categories)}
    return Decision("window.opened", data, data)


def _pause(hall: Hall, state: HallState, cmd: PauseWindow, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    if win.status == "paused":
        raise _reject("already_paused", f"{win.number}号窗口已暂停 (window already paused)")
    reason = next((r for r in hall.pause_reasons if r.id == cmd.reason), None)
    if reason is None:
        known = "、".join(f"{r.id}（{r.name}）" for r in hall.pause_reasons)
        raise _reject(
            "unknown_pause_reason",
            f"未知暂停原因 {cmd.reason!r}，可选：{known} (unknown pause reason; use one of the hall's pause_reasons)",
            "reason",
            422,
        )
    if cmd.note is not None and len(cmd.note) > 100:
        raise _reject("bad_note", "备注不超过100字 (the note is limited to 100 characters)", "note", 422)
    _busy(state, win)
    data: dict[str, Any] = {
        "window": win.number,
        "clerk": win.clerk,
        "reason": reason.id,
        "reason_zh": reason.name,
        "reason_en": reason.name_en,
    }
    if cmd.note:
        data["note"] = mask_numbers(cmd.note)
    return Decision("window.paused", data, data)


def _resume(hall: Hall, state: HallState, cmd: ResumeWindow, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    if win.status != "paused":
        raise _reject("not_paused", f"{win.number}号窗口未暂停 (window is not paused)")
    data = {"window": win.number, "clerk": win.clerk}
    return Decision("window.resumed", data, data)


def _close(hall: Hall, state: HallState, cmd: CloseWindow, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    _busy(state, win)
    data = {"window": win.number, "clerk": win.clerk}
    return Decision("window.closed", data, data)


def _move(hall: Hall, state: HallState, cmd: MoveClerk, now: float) -> Decision:
    target = _window(hall, state, cmd.to_window)
    _check_clerk(hall, cmd.clerk, list(target.categories), target.number)
    source = state.clerk_window(cmd.clerk)
    if source is not None and source.number == target.number:
        raise _reject("bad_move", f"该工作人员已在{target.number}号窗口 (clerk is already there)", "to_window", 422)
    if target.status != "closed":
        raise _reject("window_taken", f"{target.number}号窗口已由其他工作人员登录 (window is in use)", "to_window")
    if source is not None:
        _busy(state, source)
    data = {
        "clerk": cmd.clerk,
        "from_window": source.number if source else None,
        "to_window": target.number,
        "categories": list(target.categories),
    }
    return Decision("clerk.moved", data, data)


def _set_profile(hall: Hall, state: HallState, cmd: SetWindowProfile, now: float) -> Decision:
    win = _open_window(hall, state, cmd.window)
    cats = tuple(dict.fromkeys(cmd.categories))  # in the order given, once each
    if not cats:
        raise _reject("bad_profile", "工作模式至少包含一类事项 (a profile needs a category)", "categories", 422)
    skills = set(hall.window_categories(win.number))  # a window may always go back to its own categories
    if hall.clerks and win.clerk is not None:
        with contextlib.suppress(KeyError):  # a clerk not in the configuration: the window's own only
            skills |= set(hall.clerk(win.clerk).skills)
    for c in cats:
        try:
            name = hall.category(c).name
        except KeyError:
            raise _reject("unknown_category", f"没有事项类别 {c!r} (unknown category)", "categories", 422) from None
        if c not in skills:
            raise _reject(
                "clerk_not_skilled",
                f"{win.number}号窗口的工作人员不具备「{name}」的受理资质 (the clerk is not skilled for {c})",
                "categories",
            )
    if set(cats) == set(win.categories):
        message = f"{win.number}号窗口已按此工作模式叫号 (already the window's profile)"
        raise _reject("bad_profile", message, "categories")
    data = {"window": win.number, "clerk": win.clerk, "categories": list(cats), "from_categories": list(win.categories)}
    return Decision("window.profile_set", data, data)


# ---------------------------------------------------------------- appointments (预约)

_RAW_ID = re.compile(r"\d{15}|\d{17}[\dXx]")


def _booking(state: HallState, code: str) -> Booking:
    b = state.bookings.get(code.strip().upper())
    if b is None:
        raise _reject("unknown_booking", f"找不到预约 {code} (no such booking)", "booking", 404)
    return b


def _hm(hall: Hall, moment: float) -> str:
    return f"{_local(hall, moment):%H:%M}"


def booking_code(person: str, seq: int, category: str, slot_start: float) -> str:
    """An 8-letter code, unguessable without the ID number's keyed hash."""
    digest = hashlib.sha256(f"{person}:{seq}:{category}:{slot_start:.0f}".encode()).digest()
    return base64.b32encode(digest).decode()[:8]


def _book(hall: Hall, state: HallState, cmd: BookAppointment, now: float) -> Decision:
    cfg = hall.appointments
    try:
        cat = hall.category(cmd.category)
    except KeyError:
        raise _reject(
            "unknown_category", f"没有事项类别 {cmd.category!r} (unknown category)", "category", 422
        ) from None
    if not appointments.bookable(hall, cat.id):
        raise _reject("not_bookable", f"{cat.name}不提供预约 (this category takes no appointments)", "category", 422)
    if _RAW_ID.fullmatch(cmd.person) or not (16 <= len(cmd.person) <= 64):
        raise _reject("bad_person", "person must be the keyed hash of the ID number, never the number", "person", 422)
    if "*" not in cmd.citizen_name or "*" not in cmd.phone:
        raise _reject("unmasked", "name and phone must arrive masked", "name", 422)
    day = _local(hall, cmd.slot_start).date()
    slot = next((s for s in appointments.day_slots(hall, state, cat.id, day, now) if s.start == cmd.slot_start), None)
    if slot is None:
        raise _reject("bad_slot", "该时段不可预约（已过、非办公时段或不是时段起点） (no such slot)", "slot_start", 422)
    last = appointments.last_bookable_day(hall, now)
    if day > last:
        raise _reject(
            "too_far_ahead",
            f"最多可预约{cfg.days_ahead}个工作日内（至{last:%m月%d日}）"
            f" (book at most {cfg.days_ahead} working days ahead)",
            "slot_start",
            422,
        )
    until = appointments.restricted_until(hall, state, cmd.person, now)
    if until is not None:
        raise _reject(
            "booking_restricted",
            f"因多次预约未到，{until:%Y年%m月%d日}前暂停预约 (repeated no-shows: booking barred until {until})",
            "id_number",
            403,
        )
    same_day = [b for b in state.bookings.values() if b.person == cmd.person and b.day == day.isoformat()]
    if any(b.state in ("booked", "checked_in") for b in same_day):
        raise _reject("already_booked", "每人每天限预约一次 (one booking per person per day)", "id_number")
    if slot.left <= 0:
        raise _reject(
            "slot_full", f"{_hm(hall, slot.start)}时段已约满，请选择其他时段 (this slot is full)", "slot_start"
        )
    code = booking_code(cmd.person, state.seq + 1, cat.id, slot.start)
    salt = 0
    while code in state.bookings:  # a clash of 40-bit codes is rare; never reuse one
        salt += 1
        code = booking_code(f"{cmd.person}/{salt}", state.seq + 1, cat.id, slot.start)
    data = {
        "booking": code,
        "category": cat.id,
        "day": day.isoformat(),
        "slot_start": slot.start,
        "slot_end": slot.end,
        "person": cmd.person,
        "name": cmd.citizen_name,
        "phone": cmd.phone,
    }
    view = {k: v for k, v in data.items() if k != "person"}
    return Decision("booking.made", data, view)


def _cancel_booking(hall: Hall, state: HallState, cmd: CancelBooking, now: float) -> Decision:
    b = _booking(state, cmd.booking)
    if b.state != "booked":
        raise _reject(
            "illegal_transition", f"预约{b.code}当前{b.view()['state_name']}，不能取消 (booking is {b.state})"
        )
    limit = hall.appointments.cancel_before_minutes
    if now > b.slot_start - limit * 60:
        raise _reject(
            "too_late_to_cancel",
            f"预约时段开始前{_duration_zh(limit)}内不能取消 (cancel at least {limit} minutes before the slot)",
            "booking",
        )
    data = {"booking": b.code, "category": b.category, "day": b.day, "slot_start": b.slot_start}
    return Decision("booking.cancelled", data, data)


def _duration_zh(minutes: int) -> str:
    return f"{minutes // 60}小时" if minutes % 60 == 0 and minutes else f"{minutes}分钟"


def _check_in(hall: Hall, state: HallState, cmd: CheckIn, now: float) -> Decision:
    cfg = hall.appointments
    today = _local(hall, now).date().isoformat()
    if cmd.booking:
        b = _booking(state, cmd.booking)
    elif cmd.person:
        found = [
            x for x in state.bookings.values() if x.person == cmd.person and x.day == today and x.state == "booked"
        ]
        if not found:
            raise _reject(
                "unknown_booking", "未查到您今天的预约 (no booking today for this ID number)", "id_number", 404
            )
        b = found[0]
    else:
        raise _reject("bad_check_in", "请输入预约码或身份证号 (give a booking code or ID number)", "booking", 422)
    if b.state != "booked":
        raise _reject("illegal_transition", f"预约{b.code}{b.view()['state_name']} (booking is {b.state})", "booking")
    if b.day != today:
        raise _reject("wrong_day", f"该预约在{b.day}，请当天签到 (this booking is for {b.day})", "booking")
    if now < b.slot_start - cfg.early_minutes * 60:
        opens = b.slot_start - cfg.early_minutes * 60
        raise _reject("too_early", f"请于{_hm(hall, opens)}后签到 (check-in opens at {_hm(hall, opens)})", "booking")
    extra: dict[str, Any] = {"booking": b.code}
    if now <= b.slot_start + cfg.late_minutes * 60:
        extra |= {"appointment_start": b.slot_start, "appointment_end": b.slot_end}
        return _new_ticket(hall, state, b.category, "appointment", now, extra)
    # Late: the slot is gone; an ordinary walk-in ticket at the back of the queue.
    return _new_ticket(hall, state, b.category, "kiosk", now, extra | {"late": True})


def _check_in_ticket(hall: Hall, state: HallState, cmd: CheckInTicket, now: float) -> Decision:
    if cmd.ticket:
        t = _ticket(state, cmd.ticket)
    elif cmd.phone_key:
        mine = [x for x in state.waiting() if x.phone_key == cmd.phone_key and not x.arrived]
        if not mine:
            raise _reject(
                "unknown_ticket", "未查到该手机号待签到的线上取号 (no remote ticket to check in)", "phone", 404
            )
        t = min(mine, key=lambda x: x.order_at)
    else:
        raise _reject("bad_check_in", "请输入票号或手机号 (give a ticket or phone)", "ticket", 422)
    if t.arrived or t.state != "waiting":
        raise _reject(
            "illegal_transition", f"{t.number}号无需签到（{_STATE_ZH[t.state]}） (nothing to check in)", "ticket"
        )
    data = {"ticket": t.id, "number": t.number, "category": t.category}
    return Decision("ticket.checked_in", data, data | {"ahead": _ahead(state, t)})


def _ahead(state: HallState, t: Ticket) -> int:
    return sum(1 for x in state.waiting([t.category]) if (x.order_at, x.number) < (t.order_at, t.number))


# ---------------------------------------------------------------- follow-ups (差评整改)


def _followup(state: HallState, followup_id: str) -> FollowUp:
    f = state.followups.get(followup_id)
    if f is None:
        raise _reject("unknown_followup", f"找不到整改事项 {followup_id} (no such follow-up)", "followup", 404)
    return f


def _note(note: str, field: str = "note") -> str:
    note = note.strip()
    if not 1 <= len(note) <= 1000:
        raise _reject("bad_note", "说明为1–1000字 (a note of 1–1000 characters is required)", field, 422)
    return note


_NEXT_STAGE = dict(zip(list(FOLLOWUP_STAGES)[:-1], list(FOLLOWUP_STAGES)[1:], strict=True))


def _open_followup(state: HallState, followup_id: str) -> FollowUp:
    f = _followup(state, followup_id)
    if f.stage == "closed":
        raise _reject("followup_closed", f"整改事项 {f.id} 已办结 (already closed)", "followup")
    return f


def _advance_followup(hall: Hall, state: HallState, cmd: AdvanceFollowUp, now: float) -> Decision:
    f = _open_followup(state, cmd.followup)
    if f.appeal == "pending":
        raise _reject("appeal_pending", "申诉待审核，请先处理申诉 (decide the appeal first)", "followup")
    to = _NEXT_STAGE[f.stage]
    data = {"followup": f.id, "from": f.stage, "to": to, "note": _note(cmd.note)}
    return Decision("followup.advanced", data, data | {"stage_name": FOLLOWUP_STAGES[to][0]})


def _note_followup(hall: Hall, state: HallState, cmd: NoteFollowUp, now: float) -> Decision:
    f = _followup(state, cmd.followup)
    data = {"followup": f.id, "note": _note(cmd.note)}
    return Decision("followup.noted", data, data)


def _assign_followup(hall: Hall, state: HallState, cmd: AssignFollowUp, now: float) -> Decision:
    f = _open_followup(state, cmd.followup)
    if not 1 <= len(cmd.owner) <= 40:
        raise _reject("bad_owner", "owner must be 1–40 characters", "owner", 422)
    data = {"followup": f.id, "owner": cmd.owner, "from_owner": f.owner}
    return Decision("followup.assigned", data, data)


def _appeal(hall: Hall, state: HallState, cmd: AppealRating, now: float) -> Decision:
    f = _open_followup(state, cmd.followup)
    if f.appeal is not None:
        raise _reject("already_appealed", "该评价已申诉过 (this rating was already appealed)", "followup")
    reason = _note(cmd.reason, "reason")
    data = {"followup": f.id, "ticket": f.ticket, "reason": reason, "note": f"申诉：{reason}"}
    return Decision("followup.appealed", data, data)


def _decide_appeal(hall: Hall, state: HallState, cmd: DecideAppeal, now: float) -> Decision:
    f = _followup(state, cmd.followup)
    if f.appeal != "pending":
        raise _reject("no_appeal", "该事项没有待审核的申诉 (no pending appeal)", "followup")
    verdict = "申诉成立，差评不计入" if cmd.upheld else "申诉不成立，继续整改"
    data = {
        "followup": f.id,
        "ticket": f.ticket,
        "upheld": cmd.upheld,
        "note": f"{verdict}：{_note(cmd.note)}",
    }
    return Decision("followup.appeal_decided", data, data)


_HANDLERS: dict[type[Command], Any] = {
    IssueTicket: _issue,
    CallNext: _call_next,
    CallTicket: _call_ticket,
    SuspendTicket: _suspend,
    ResumeTicket: _resume_ticket,
    Recall: _recall,
    NoShow: _no_show,
    StartService: _start,
    FinishService: _finish,
    Transfer: _transfer,
    CancelTicket: _cancel,
    RateService: _rate,
    OpenWindow: _open,
    PauseWindow: _pause,
    ResumeWindow: _resume,
    CloseWindow: _close,
    MoveClerk: _move,
    SetWindowProfile: _set_profile,
    BookAppointment: _book,
    CancelBooking: _cancel_booking,
    CheckIn: _check_in,
    CheckInTicket: _check_in_ticket,
    AdvanceFollowUp: _advance_followup,
    NoteFollowUp: _note_followup,
    AssignFollowUp: _assign_followup,
    AppealRating: _appeal,
    DecideAppeal: _decide_appeal,
}
