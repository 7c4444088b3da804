"""The clerk's desk: what a window's console shows besides the ticket at the window.

:func:`desk` lists who is waiting for the window in the order the calling policy
would call them (the same :func:`~queue_server.policy.choose` the window's 呼叫下一位
uses, asked again and again), the tickets set aside (挂起) that the window may take
back, the clerk's services finished today and the times the service timer runs
from. Numbers, categories and minutes only: no citizen's personal data exists in
the state, so none can appear here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from .commands import call_context, serving_categories
from .config import Hall
from .model import HallState, Ticket, WindowState
from .policy import choose

QUEUE_SHOWN = 30  # the console lists the first ones; the count covers them all


def calling_order(hall: Hall, state: HallState, win: WindowState, now: float, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` tickets the window would call, in order, each with the policy's rule and reason."""
    today = datetime.fromtimestamp(now, hall.tz).date().isoformat()
    candidates = [t for t in state.waiting() if t.day == today]
    ctx = call_context(hall, win, now)
    out: list[dict[str, Any]] = []
    while candidates and len(out) < limit:
        choice = choose(candidates, ctx)
        if choice is None:
            break
        out.append(_waiting_row(hall, choice.ticket, now) | {"rule": choice.rule, "reason": choice.reason})
        candidates = [t for t in candidates if t.id != choice.ticket.id]
    return out


def _waiting_row(hall: Hall, t: Ticket, now: float) -> dict[str, Any]:
    group = next((g for g in hall.priority_groups if g.id == t.priority_group), None)
    return {
        "ticket": t.id,
        "number": t.number,
        "category": t.category,
        "waited_minutes": int((now - t.order_at) // 60),
        "priority": group.name if group else None,
        "appointment": t.appointment_start is not None,
        "transferred": t.target_window is not None or t.transfers > 0,
        "arrived": t.arrived,
    }


def desk(hall: Hall, state: HallState, window: int, now: float) -> dict[str, Any]:
    """The desk of ``window`` at ``now``: queue in calling order, suspended tickets, served today, timers."""
    live = state.windows.get(window)
    win = live if live is not None else WindowState(window, tuple(hall.window_categories(window)))
    if win.status == "closed":  # nobody logged in: the window's own categories, no clerk's skills
        win = replace(win, clerk=None)
    cats = serving_categories(hall, win)
    today = datetime.fromtimestamp(now, hall.tz).date().isoformat()
    waiting = sum(
        1
        for t in state.waiting()
        if t.day == today and (t.category in cats if t.target_window is None else t.target_window == window)
    )
    suspended = [
        {
            "ticket": t.id,
            "number": t.number,
            "category": t.category,
            "window": t.window,
            "since": t.suspended_at,
            "minutes": int((now - (t.suspended_at or now)) // 60),
        }
        for t in state.tickets.values()
        if t.state == "suspended" and t.day == today and (t.window == window or t.category in cats)
    ]
    current = state.tickets.get(win.current) if win.current else None
    served = (
        sum(1 for t in state.tickets.values() if t.state == "finished" and t.clerk == win.clerk and t.day == today)
        if win.clerk
        else 0
    )
    return {
        "now": now,
        "waiting": waiting,
        "queue": calling_order(hall, state, win, now, QUEUE_SHOWN),
        "suspended": sorted(suspended, key=lambda s: s["since"] or 0.0),
        "served_today": served,
        "current": None
        if current is None
        else {
            "ticket": current.id,
            "called_at": current.called_at,
            "started_at": current.started_at,
            "suspended_seconds": current.suspended_seconds,
        },
    }
