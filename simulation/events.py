"""A simulated day told as the live hall's event stream.

:func:`day_events` turns the records of a simulated day into the events the
server would have written for it — ``window.opened``/``window.closed`` by shift,
``ticket.issued``, ``ticket.called``, ``ticket.no_show``, ``ticket.recalled``,
``ticket.started``, ``ticket.finished``, ``ticket.transferred`` (the next step of
a journey, keeping the place) and ``ticket.cancelled`` (abandonment) — with the
same data fields (see :mod:`queue_server.commands`). The stream folds cleanly
through :func:`queue_server.model.apply_event`, and ``hallq calibrate`` reads it
exactly like an export from a real hall: that closes the round trip
simulate → export → fit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from queue_server.config import Hall
from queue_server.model import Event

from .model import ABANDONED, BALKED, NO_SHOW, RULES, SERVED, DayResult, minutes_of
from .roster import Shift

# Order of events at the same moment: a window frees before it calls again.
_RANK = {
    "window.opened": 0,
    "ticket.issued": 1,
    "ticket.no_show": 2,
    "ticket.finished": 2,
    "ticket.cancelled": 2,
    "ticket.transferred": 3,
    "ticket.called": 4,
    "ticket.recalled": 4,
    "ticket.started": 5,
    "window.closed": 9,
}


def day_events(hall: Hall, day: DayResult, shifts: Sequence[Shift], start_seq: int = 1) -> list[Event]:
    """The events of one simulated day, ``seq`` numbered from ``start_seq``."""
    base = datetime.combine(day.day, datetime.min.time(), hall.tz).timestamp()
    cats = hall.category_ids()
    call_timeout = hall.simulation.call_timeout_minutes
    raw: list[tuple[float, int, int, str, str, dict[str, Any]]] = []
    n = 0

    def add(at: float, kind: str, actor: str, data: dict[str, Any]) -> None:
        nonlocal n
        raw.append((at, _RANK[kind], n, kind, actor, data))
        n += 1

    s = day.steps
    served = s["outcome"] == SERVED
    for sh in shifts:
        for a, b in sh.spans():
            t0, t1 = minutes_of(a), minutes_of(b)
            here = served & (s["window"] == sh.window) & (s["started"] < t1) & (s["finished"] > t1)
            closing = max([t1, *s["finished"][here].tolist()])
            opened = {"window": sh.window, "clerk": sh.clerk, "categories": list(hall.window_categories(sh.window))}
            add(t0, "window.opened", f"clerk:{sh.clerk}", opened)
            add(closing, "window.closed", f"clerk:{sh.clerk}", {"window": sh.window, "clerk": sh.clerk})
    where = {(int(c), int(st)): i for i, (c, st) in enumerate(zip(s["citizen"], s["step"], strict=True))}
    for (c, step), i in sorted(where.items()):
        outcome = int(s["outcome"][i])
        if outcome == BALKED:
            continue  # turned away at the door: never took a ticket
        t = day.tickets[c]
        number = t.number
        prefix = number.rstrip("0123456789")
        cat = cats[int(s["category"][i])]
        ident = {"ticket": t.id, "number": number}
        win = int(s["window"][i])
        clerk = day.clerk_ids[int(s["clerk"][i])] if s["clerk"][i] >= 0 else None
        at_window = ident | {"category": cat, "window": win, "clerk": clerk}
        if step == 0:
            data: dict[str, Any] = ident | {
                "category": cat,
                "prefix": prefix,
                "sequence": int(number[len(prefix) :]),
                "day": day.day.isoformat(),
                "channel": t.channel,
            }
            if t.priority_group:
                data["priority_group"] = t.priority_group
            if t.appointment_start is not None:
                data["appointment_start"] = t.appointment_start
                data["appointment_end"] = t.appointment_end
            add(float(s["arrived"][i]), "ticket.issued", "kiosk:sim", data)
        called = float(s["called"][i])
        if not math.isnan(called):
            rule = int(s["rule"][i])
            add(
                called,
                "ticket.called",
                f"clerk:{clerk}",
                ident
                | {"category": cat, "window": win, "rule": RULES[rule] if rule >= 0 else "order"}
                | {"reason": day.step_reasons[i]},
            )
        if outcome == NO_SHOW or (outcome != SERVED and not math.isnan(called)):
            add(called + call_timeout, "ticket.no_show", f"clerk:{clerk}", at_window)
        elif outcome == SERVED:
            started = float(s["started"][i])
            if started > called + 1e-9:  # came back after a no-show and was recalled
                add(called + call_timeout, "ticket.no_show", f"clerk:{clerk}", at_window)
                add(started, "ticket.recalled", f"clerk:{clerk}", ident | {"window": win, "recall": 1})
            add(started, "ticket.started", f"clerk:{clerk}", at_window)
            finished = float(s["finished"][i])
            last = (c, step + 1) not in where
            add(
                finished,
                "ticket.finished",
                f"clerk:{clerk}",
                at_window
                | {"outcome": "completed" if last else "accepted", "service_seconds": round((finished - started) * 60)},
            )
            if not last:
                nxt = cats[int(s["category"][where[c, step + 1]])]
                add(
                    finished,
                    "ticket.transferred",
                    f"clerk:{clerk}",
                    at_window | {"from_category": cat, "to_category": nxt, "to_window": None, "keep_place": True},
                )
        if outcome == ABANDONED:
            add(float(s["left"][i]), "ticket.cancelled", "citizen", ident | {"category": cat})
    raw.sort(key=lambda r: (r[0], r[1], r[2]))
    return [
        Event(
            start_seq + k,
            hall.id,
            datetime.fromtimestamp(base + at * 60, hall.tz).isoformat(timespec="milliseconds"),
            actor,
            kind,
            data,
        )
        for k, (at, _, _, kind, actor, data) in enumerate(raw)
    ]


def write_jsonl(events: Iterable[Event], path: str) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(e.to_json() + "\n")
            count += 1
    return count
