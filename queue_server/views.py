"""What the API, the feeds and the pages show of a hall.

Public views (boards, trackers, kiosks) carry ticket numbers, categories and
window numbers only. The manager view adds clerks, reasons and ratings. Nothing
here holds a citizen's name, phone or ID number: the core never stores them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from .commands import serving_categories
from .config import Hall
from .estimate import TwinWait, WaitEstimate, category_estimate, shown_wait, wait_text
from .model import OUTCOMES, RATING_LEVELS, Event, HallState, Ticket

RECENT_CALLS = 20  # the most a board lists (its ``&n=``)

# Event types the public feeds carry, and the data fields they may show.
PUBLIC_EVENTS = frozenset(
    {
        "ticket.issued",
        "ticket.called",
        "ticket.recalled",
        "ticket.no_show",
        "ticket.started",
        "ticket.suspended",
        "ticket.resumed",
        "ticket.finished",
        "ticket.transferred",
        "ticket.cancelled",
        "ticket.checked_in",
        "ticket.expired",
        "window.opened",
        "window.paused",
        "window.resumed",
        "window.closed",
        "clerk.moved",
    }
)
PUBLIC_FIELDS = frozenset(
    {
        "ticket",
        "number",
        "category",
        "window",
        "to_category",
        "to_window",
        "from_window",
        "recall",
        "reason_public",
        "expired",
        "tickets",
        "numbers",
    }
)


def announcement(hall: Hall, number: str, window: int, recall: bool = False) -> dict[str, str]:
    """The call as shown and spoken, from the hall's templates: zh, en and each configured language's code."""
    a = hall.announcements
    zh = (a.recall if recall else a.call).format(ticket=number, window=window)
    en = (a.recall_en if recall else a.call_en).format(ticket=number, window=window)
    more = {
        lang.code: (lang.recall if recall else lang.call).format(ticket=number, window=window)
        for lang in hall.languages
    }
    return {"zh": zh, "en": en, **more}


def pause_reason(hall: Hall, code: str | None) -> tuple[str, str]:
    """The public (zh, en) name of a pause reason id. Anything else — e.g. the free text an older
    journal holds — is shown as 暂停服务: a clerk's own words never reach a board."""
    for reason in hall.pause_reasons:
        if reason.id == code:
            return reason.name, reason.name_en
    return "暂停服务", "Service paused"


def public_event(hall: Hall, event: Event) -> dict[str, Any] | None:
    """The event as a board or tracker may see it, or None when it is not public."""
    if event.type not in PUBLIC_EVENTS:
        return None
    data = {k: v for k, v in event.data.items() if k in PUBLIC_FIELDS}
    if event.type == "window.paused":
        data["reason"], data["reason_en"] = pause_reason(hall, event.data.get("reason"))
    out: dict[str, Any] = {"seq": event.seq, "ts": event.ts, "type": event.type, "data": data}
    if event.type in ("ticket.called", "ticket.recalled"):
        out["announcement"] = announcement(hall, data["number"], data["window"], event.type == "ticket.recalled")
    return out


def _zone_of_window(hall: Hall, number: int) -> str | None:
    try:
        return hall.window(number).zone
    except KeyError:
        return None


def event_zone(hall: Hall, event: Event) -> set[str]:
    """Zones an event concerns (for the board's zone filter)."""
    zones: set[str] = set()
    d = event.data
    for key in ("window", "to_window", "from_window"):
        if isinstance(d.get(key), int):
            zone = _zone_of_window(hall, d[key])
            if zone:
                zones.add(zone)
    for key in ("category", "to_category"):
        if isinstance(d.get(key), str):
            with contextlib.suppress(KeyError):
                zones.add(hall.category(d[key]).zone)
    return zones


def recent_calls(hall: Hall, state: HallState, limit: int = RECENT_CALLS, zone: str | None = None) -> list[Ticket]:
    """The last ``limit`` tickets called (or recalled), newest first — of one zone's windows when ``zone``
    is given (chosen before counting, so a zone board gets its own last ``limit`` calls)."""
    called = [
        t
        for t in state.tickets.values()
        if t.called_at is not None
        and t.window is not None
        and (zone is None or _zone_of_window(hall, t.window) == zone)
    ]
    called.sort(key=lambda t: max([t.called_at or 0.0, *t.recalls]), reverse=True)
    return called[:limit]


def estimate_fields(est: WaitEstimate) -> dict[str, Any]:
    """An estimate as the API, boards and trackers carry it: the minutes, the range, the words
    and the predictor (``"twin"`` or ``"queue"``); ``estimate_beyond_minutes`` when the wait
    is only known to be longer than the forecast's horizon."""
    out: dict[str, Any] = {
        "estimated_wait_minutes": est.minutes,
        "estimated_wait_low_minutes": est.low,
        "estimated_wait_high_minutes": est.high,
        "estimated_wait_text": wait_text(est),
        "estimate_source": est.source,
    }
    if est.beyond is not None:
        out["estimate_beyond_minutes"] = est.beyond
    return out


def hall_snapshot(
    hall: Hall,
    state: HallState,
    now: float,
    manager: bool = False,
    zone: str | None = None,
    twin: TwinWait | None = None,
) -> dict:
    """The live state of a hall: per category the queue and the wait (from ``twin`` when it
    has a fresh forecast), per window its state."""
    categories = []
    for cat in hall.categories:
        if zone and cat.zone != zone:
            continue
        waiting, est = category_estimate(hall, state, cat.id, now, twin)
        waits = [now - t.order_at for t in state.waiting([cat.id])]
        row: dict[str, Any] = {
            "id": cat.id,
            "prefix": cat.prefix,
            "name": cat.name,
            "name_en": cat.name_en,
            "zone": cat.zone,
            "waiting": waiting,
            **estimate_fields(est),
            "target_wait_minutes": cat.target_wait_minutes,
            "longest_wait_minutes": round(max(waits) / 60, 1) if waits else 0,
            "issued_today": issued_today(hall, state, cat.id, now),
            "daily_cap": cat.daily_cap,
            "tickets_left": tickets_left(hall, state, cat.id, now),
        }
        categories.append(row)
    windows = []
    for win_cfg in hall.windows:
        if zone and win_cfg.zone != zone:
            continue
        live = state.windows.get(win_cfg.number)
        why = pause_reason(hall, live.pause_reason) if live is not None and live.status == "paused" else None
        current = state.tickets.get(live.current) if live and live.current else None
        row = {
            "number": win_cfg.number,
            "zone": win_cfg.zone,
            "class": win_cfg.window_class,
            "status": live.status if live else "closed",
            "pause_reason": why[0] if why else None,
            "pause_reason_en": why[1] if why else None,
            "current": {
                "ticket": current.id,
                "number": current.number,
                "state": current.state,
                "category": current.category,
            }
            if current
            else None,
        }
        if manager:
            row["clerk"] = live.clerk if live else None
            row["clerk_name"] = _clerk_name(hall, live.clerk) if live and live.clerk else None
            row["since"] = live.since if live else None
            row["pause_note"] = live.pause_note if live else None
            row["categories"] = list(live.categories) if live else hall.window_categories(win_cfg.number)
            if current is not None:
                row["current"]["reason"] = current.call_reason
        windows.append(row)
    calls = []
    for t in recent_calls(hall, state, zone=zone):
        calls.append(
            {
                "ticket": t.id,
                "number": t.number,
                "window": t.window,
                "state": t.state,
                "announcement": announcement(hall, t.number, t.window or 0),
            }
        )
    return {
        "hall": hall.id,
        "name": hall.name,
        "name_en": hall.name_en,
        "seq": state.seq,
        "now": now,
        "open": hall.hours.is_open_at(datetime.fromtimestamp(now, hall.tz)),
        "zone": zone,
        "categories": categories,
        "windows": windows,
        "recent_calls": calls,
    }


def _today(hall: Hall, now: float) -> str:
    return datetime.fromtimestamp(now, hall.tz).date().isoformat()


def issued_today(hall: Hall, state: HallState, category: str, now: float) -> int:
    return state.issued_today.get(category, 0) if state.day == _today(hall, now) else 0


def tickets_left(hall: Hall, state: HallState, category: str, now: float) -> int | None:
    """Tickets the category can still give today (None: no daily cap)."""
    cap = hall.category(category).daily_cap
    return None if cap is None else max(0, cap - issued_today(hall, state, category, now))


def _clerk_name(hall: Hall, clerk: str) -> str:
    try:
        return hall.clerk(clerk).name
    except KeyError:
        return clerk


_WHERE_ZH = {
    "waiting": "请在等候区等候叫号",
    "no_show": "已过号，请到窗口说明或重新取号",
    "cancelled": "已取消",
    "expired": "未签到已过期，请重新取号",
    "suspended": "已挂起，请补齐材料后回到窗口",
}


def ticket_status(
    hall: Hall, state: HallState, ticket: Ticket, now: float, twin: TwinWait | None = None
) -> dict[str, Any]:
    """What a citizen's tracker shows: state, position, estimated wait with its range, where to go.

    The estimate is the live twin's (``estimate_source: "twin"``) when ``twin`` has a fresh
    forecast covering the ticket, otherwise the core's queue estimate (``"queue"``)."""
    out: dict[str, Any] = ticket.public()
    cat = hall.category(ticket.category)
    out["category_name"] = cat.name
    out["category_name_en"] = cat.name_en
    out["seq"] = state.seq
    if ticket.state == "waiting":
        est = shown_wait(hall, state, ticket, now, twin)
        out |= {"position": est.ahead + 1, "ahead": est.ahead, **estimate_fields(est)}
        out["where"] = {"zh": _WHERE_ZH["waiting"], "en": "Please wait in the waiting area"}
        if not ticket.arrived:
            out["where"] = {
                "zh": "到达大厅后请在取号机签到，未签到的号叫到时作废",
                "en": "Check in at a kiosk on arrival; an unchecked ticket expires when called",
            }
    elif ticket.state in ("called", "serving") and ticket.window is not None:
        out["where"] = {"zh": f"请到{ticket.window}号窗口", "en": f"Please go to window {ticket.window}"}
        out["announcement"] = announcement(hall, ticket.number, ticket.window, bool(ticket.recalls))
    elif ticket.state == "finished":
        out["outcome"] = ticket.outcome
        out["outcome_name"] = OUTCOMES[ticket.outcome][0] if ticket.outcome in OUTCOMES else None
        out["rated"] = ticket.rating is not None
    elif ticket.state == "suspended":
        out["where"] = {
            "zh": _WHERE_ZH["suspended"],
            "en": f"Set aside: bring the missing documents back to window {ticket.window}",
        }
    else:
        out["where"] = {"zh": _WHERE_ZH.get(ticket.state, ""), "en": ticket.state.replace("_", " ")}
    return out


def materials(hall: Hall) -> list[dict[str, Any]]:
    """Categories with their materials lists (一次性告知), for kiosks and the public API."""
    return [
        {
            "id": c.id,
            "prefix": c.prefix,
            "name": c.name,
            "name_en": c.name_en,
            "zone": c.zone,
            "zone_name": hall.zone(c.zone).name,
            "materials": list(c.materials),
            "target_wait_minutes": c.target_wait_minutes,
            "daily_cap": c.daily_cap,
        }
        for c in hall.categories
    ]


# ------------------------------------------------------------------ the manager's day and the rating pad
# (added for the pages: utilisation, alerts and ratings today; the ticket a rating pad asks about)

PAUSE_ALERT_MINUTES = 15  # a window paused longer than this is an alert
IDLE_ALERT_MINUTES = 2  # an open window idle this long while its categories wait is an alert
PAD_RATING_MINUTES = 15  # a rating pad asks about a service finished at most this long ago
BAD_RATINGS = frozenset({1, 2})  # 不满意, 非常不满意: each one must be followed up (差评整改)


def _seconds_of_day(t: Any) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second


def open_seconds_today(hall: Hall, now: float) -> float:
    """Seconds the hall has been open today up to ``now`` (lunch break excluded)."""
    local = datetime.fromtimestamp(now, hall.tz)
    hours = hall.hours
    if not hours.is_working_day(local.date()):
        return 0.0
    t = _seconds_of_day(local.time())
    start, end = _seconds_of_day(hours.open), min(t, _seconds_of_day(hours.close))
    total = max(0.0, end - start)
    if hours.lunch:
        lunch_start, lunch_end = _seconds_of_day(hours.lunch.start), _seconds_of_day(hours.lunch.end)
        total -= max(0.0, min(end, lunch_end) - max(start, lunch_start))
    return total


def _busy_seconds(t: Ticket, now: float) -> float:
    """Time a ticket held its window: from the call to the finish (or to now, or to the no-show),
    less the time it was set aside (挂起)."""
    if t.called_at is None:
        return 0.0
    end = t.finished_at or t.no_show_at or (now if t.state in ("called", "serving") else t.called_at)
    if t.state == "suspended" and t.suspended_at is not None:
        end = t.suspended_at
    return max(0.0, end - t.called_at - t.suspended_seconds)


def duty_seconds_today(hall: Hall, state: HallState, now: float) -> tuple[dict[int, float], dict[str, float]]:
    """Seconds each window and each clerk was on duty (window open or paused) today up to ``now``."""
    local = datetime.fromtimestamp(now, hall.tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    by_window: dict[int, float] = {}
    by_clerk: dict[str, float] = {}
    for window, clerk, start, end in state.duty:
        span = max(0.0, min(now, end if end is not None else now) - max(start, midnight))
        by_window[window] = by_window.get(window, 0.0) + span
        by_clerk[clerk] = by_clerk.get(clerk, 0.0) + span
    return by_window, by_clerk


def utilisation_today(hall: Hall, state: HallState, now: float) -> dict[str, Any]:
    """Busy time today per window and per clerk, as a share of their time on duty today.

    Busy means a ticket was at the window (called, being served); on duty means the window
    was open or paused (:func:`duty_seconds_today`) — the same clock as the tickets', so a
    hall run faster than life (``hallq demo``) or outside its hours gets true figures. An
    empty post (空岗) shows as ``staffed_minutes`` short of the hall's ``open_minutes``.
    """
    today = _today(hall, now)
    open_s = open_seconds_today(hall, now)
    duty_window, duty_clerk = duty_seconds_today(hall, state, now)
    by_window: dict[int, float] = {}
    by_clerk: dict[str, float] = {}
    served_window: dict[int, int] = {}
    for t in state.tickets.values():
        if t.day != today or t.window is None:
            continue
        busy = _busy_seconds(t, now)
        by_window[t.window] = by_window.get(t.window, 0.0) + busy
        if t.clerk:
            by_clerk[t.clerk] = by_clerk.get(t.clerk, 0.0) + busy
        if t.state == "finished":
            served_window[t.window] = served_window.get(t.window, 0) + 1

    def share(busy: float, duty: float) -> float | None:
        return round(min(1.0, busy / duty), 3) if duty > 0 else None

    windows = [
        {
            "number": w.number,
            "busy_minutes": round(by_window.get(w.number, 0.0) / 60, 1),
            "staffed_minutes": round(duty_window.get(w.number, 0.0) / 60, 1),
            "served": served_window.get(w.number, 0),
            "utilisation": share(by_window.get(w.number, 0.0), duty_window.get(w.number, 0.0)),
        }
        for w in hall.windows
    ]
    clerks = [
        {
            "clerk": clerk,
            "name": _clerk_name(hall, clerk),
            "busy_minutes": round(busy / 60, 1),
            "staffed_minutes": round(duty_clerk.get(clerk, 0.0) / 60, 1),
            "utilisation": share(busy, duty_clerk.get(clerk, 0.0)),
        }
        for clerk, busy in sorted(by_clerk.items())
    ]
    return {"open_minutes": round(open_s / 60, 1), "windows": windows, "clerks": clerks}


def _idle_since(state: HallState, number: int, since: float | None) -> float | None:
    """When an open window last became free: its opening/resuming or its last ticket leaving."""
    last = since
    for t in state.tickets.values():
        if t.window == number:
            for moment in (t.finished_at, t.no_show_at):
                if moment is not None and (last is None or moment > last):
                    last = moment
    return last


def hall_alerts(hall: Hall, state: HallState, now: float) -> list[dict[str, Any]]:
    """What a manager should act on now, most urgent kind first.

    * ``over_target``: a category whose longest wait is past its target;
    * ``idle_window``: an open window idle for a while although a category it serves waits;
    * ``long_pause``: a window paused longer than :data:`PAUSE_ALERT_MINUTES`.
    """
    alerts: list[dict[str, Any]] = []
    for cat in hall.categories:
        waiting = state.waiting([cat.id])
        if not waiting:
            continue
        longest = max(now - t.order_at for t in waiting) / 60
        if longest > cat.target_wait_minutes:
            alerts.append(
                {
                    "kind": "over_target",
                    "category": cat.id,
                    "zh": f"{cat.name}等候超时：最长已等{longest:.0f}分钟（目标{cat.target_wait_minutes}分钟），"
                    f"{len(waiting)}人等候",
                    "en": f"{cat.name_en or cat.id}: longest wait {longest:.0f} min, target "
                    f"{cat.target_wait_minutes} min, {len(waiting)} waiting",
                }
            )
    for win in sorted(state.windows.values(), key=lambda w: w.number):
        if win.status == "open" and win.current is None:
            # serving_categories: the same rule the calling policy uses
            cats = [c for c in hall.categories if c.id in serving_categories(hall, win) and state.waiting_count(c.id)]
            idle_from = _idle_since(state, win.number, win.since)
            idle = (now - idle_from) / 60 if idle_from is not None else 0.0
            if cats and idle >= IDLE_ALERT_MINUTES:
                names = "、".join(c.name for c in cats)
                alerts.append(
                    {
                        "kind": "idle_window",
                        "window": win.number,
                        "zh": f"{win.number}号窗口空闲{idle:.0f}分钟，但{names}有人等候",
                        "en": f"Window {win.number} idle for {idle:.0f} min while "
                        f"{', '.join(c.name_en or c.id for c in cats)} wait",
                    }
                )
        elif win.status == "paused" and win.since is not None:
            paused = (now - win.since) / 60
            if paused > PAUSE_ALERT_MINUTES:
                why = pause_reason(hall, win.pause_reason)
                alerts.append(
                    {
                        "kind": "long_pause",
                        "window": win.number,
                        "zh": f"{win.number}号窗口已暂停{paused:.0f}分钟（{why[0]}）",
                        "en": f"Window {win.number} paused for {paused:.0f} min ({why[1]})",
                    }
                )
    return alerts


def ratings_today(hall: Hall, state: HallState, now: float) -> dict[str, Any]:
    """好差评 today: services finished, how many were rated, the count per level, the bad ones."""
    today = _today(hall, now)
    finished = [t for t in state.tickets.values() if t.day == today and t.state == "finished"]
    rated = [t for t in finished if t.rating is not None]
    levels = {str(level): sum(1 for t in rated if t.rating == level) for level in RATING_LEVELS}
    bad = [
        {
            "ticket": t.id,
            "number": t.number,
            "window": t.window,
            "clerk": t.clerk,
            "clerk_name": _clerk_name(hall, t.clerk) if t.clerk else None,
            "level": t.rating,
            "case_number": t.case_number,
        }
        for t in sorted(rated, key=lambda t: t.finished_at or 0.0)
        if t.rating in BAD_RATINGS
    ]
    return {
        "finished": len(finished),
        "rated": len(rated),
        "rating_rate": round(len(rated) / len(finished), 3) if finished else None,
        "levels": levels,
        "satisfied_rate": round(sum(1 for t in rated if (t.rating or 0) >= 3) / len(rated), 3) if rated else None,
        "bad": bad,
    }


def pending_rating(hall: Hall, state: HallState, window: int, now: float) -> dict[str, Any] | None:
    """The service a window's rating pad should ask about: its latest finished, unrated ticket."""
    done = [
        t
        for t in state.tickets.values()
        if t.window == window
        and t.state == "finished"
        and t.rating is None
        and t.finished_at is not None
        and now - t.finished_at <= PAD_RATING_MINUTES * 60
    ]
    if not done:
        return None
    t = max(done, key=lambda t: t.finished_at or 0.0)
    cat = hall.category(t.category)
    return {
        "ticket": t.id,
        "number": t.number,
        "category": t.category,
        "category_name": cat.name,
        "category_name_en": cat.name_en,
        "case_number": t.case_number,
        "outcome": t.outcome,
        "outcome_name": OUTCOMES[t.outcome][0] if t.outcome in OUTCOMES else None,
        "window": window,
    }
