"""Writing a roster out: CSV for spreadsheets, one iCalendar file per clerk, an HTML grid.

``write_roster(hall, roster, out_dir)`` writes

- ``roster.csv`` — one row per clerk and day:
  ``clerk,date,start,end,break_start,break_end,window,shift,name``;
- ``intervals.csv`` — one row per clerk and interval:
  ``clerk,date,start,end,activity,category,window`` (what the simulation replays);
- ``coverage.csv`` — ``date,start,category,need,planned``;
- ``calendars/<clerk>.ics`` — the clerk's shifts (with the break) as calendar events;
- ``roster.html`` — a day-by-day grid coloured by category;
- ``summary.json`` — the solver's status, objective, bound, gap and times.

:func:`read_intervals` reads ``intervals.csv`` back for ``hallq simulate --roster``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from icalendar import Calendar, Event
from jinja2 import Environment, PackageLoader, select_autoescape

from queue_server.config import Hall

from .roster import Roster, Slot

ROSTER_COLUMNS = ("clerk", "date", "start", "end", "break_start", "break_end", "window", "shift", "name")
INTERVAL_COLUMNS = ("clerk", "date", "start", "end", "activity", "category", "window")
PALETTE = (
    "#cfe8ff", "#d9f2d0", "#ffe7c2", "#f3d1f4", "#fff3b0", "#c9f0ea", "#ffd6d6",
    "#e0dcff", "#d7ecc4", "#fbe0c9", "#cde3f0", "#efe0c8", "#d5f5e3", "#f6d5e5",
)  # fmt: skip


def _hm(t: time | None) -> str:
    return "" if t is None else f"{t:%H:%M}"


def write_csv(hall: Hall, roster: Roster, out_dir: Path) -> list[Path]:
    names = {c.id: c.name for c in hall.clerks}
    rows = sorted(roster.assignments, key=lambda a: (a.clerk, a.day))
    p1 = out_dir / "roster.csv"
    with p1.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(ROSTER_COLUMNS)
        for a in rows:
            win = a.main_window()
            w.writerow(
                [a.clerk, a.day.isoformat(), _hm(a.start), _hm(a.end), _hm(a.break_start), _hm(a.break_end),
                 "" if win is None else win, a.shift, names.get(a.clerk, "")]
            )  # fmt: skip
    p2 = out_dir / "intervals.csv"
    with p2.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(INTERVAL_COLUMNS)
        for a in rows:
            for s in a.slots:
                w.writerow(
                    [a.clerk, a.day.isoformat(), _hm(s.start), _hm(s.end), s.activity, s.category or "",
                     "" if s.window is None else s.window]
                )  # fmt: skip
    p3 = out_dir / "coverage.csv"
    with p3.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(("date", "start", "category", "need", "planned"))
        for c in roster.coverage:
            w.writerow([c.day.isoformat(), _hm(c.start), c.category, c.need, c.planned])
    return [p1, p2, p3]


def clerk_calendar(hall: Hall, roster: Roster, clerk_id: str) -> Calendar:
    """The clerk's week as an iCalendar: one event per shift (break in the description)."""
    clerk = hall.clerk(clerk_id)
    cal = Calendar()
    cal.add("prodid", "-//hallq//roster//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{clerk.name} 排班 {roster.week_start}")
    cal.add("x-wr-timezone", hall.timezone)
    for a in roster.for_clerk(clerk_id):
        shift = hall.roster.shift(a.shift)
        ev = Event()
        ev.add("uid", f"{hall.id}-{clerk_id}-{a.day.isoformat()}@hallq")
        ev.add("dtstamp", datetime(a.day.year, a.day.month, a.day.day, tzinfo=hall.tz))
        ev.add("dtstart", datetime.combine(a.day, a.start, hall.tz))
        ev.add("dtend", datetime.combine(a.day, a.end, hall.tz))
        win = a.main_window()
        where = f"{win}号窗口" if win is not None else "待岗"
        ev.add("summary", f"{shift.name} · {where}")
        ev.add("location", f"{hall.name} {where}")
        lines = [f"班次 Shift: {shift.name} ({shift.name_en or shift.id}) {_hm(a.start)}–{_hm(a.end)}"]
        if a.break_start is not None:
            lines.append(f"午休 Break: {_hm(a.break_start)}–{_hm(a.break_end)}")
        lines += _slot_lines(hall, a.slots)
        ev.add("description", "\n".join(lines))
        cal.add_component(ev)
    cal.add_missing_timezones()  # a VTIMEZONE for Asia/Shanghai, as RFC 5545 asks
    return cal


def _slot_lines(hall: Hall, slots: list[Slot]) -> list[str]:
    """Consecutive intervals with the same category and window, as 'HH:MM–HH:MM 类别 @ 窗口'."""
    out: list[str] = []
    run: list[Slot] = []
    for s in [*slots, None]:
        key = None if s is None else (s.activity, s.category, s.window)
        if run and key != (run[0].activity, run[0].category, run[0].window):
            head = run[0]
            if head.activity == "serve" and head.category:
                label = hall.category(head.category).name
                win = f" @ {head.window}号窗口" if head.window is not None else ""
                out.append(f"{_hm(head.start)}–{_hm(run[-1].end)} {label}{win}")
            run = []
        if s is not None:
            run.append(s)
    return out


def write_calendars(hall: Hall, roster: Roster, out_dir: Path) -> list[Path]:
    folder = out_dir / "calendars"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for clerk in hall.clerks:
        path = folder / f"{clerk.id}.ics"
        path.write_bytes(clerk_calendar(hall, roster, clerk.id).to_ical())
        paths.append(path)
    return paths


def render_html(hall: Hall, roster: Roster) -> str:
    env = Environment(loader=PackageLoader("scheduler", "templates"), autoescape=select_autoescape(["html"]))
    colors = {c.id: PALETTE[i % len(PALETTE)] for i, c in enumerate(hall.categories)}
    prefix = {c.id: c.prefix for c in hall.categories}
    names = {c.id: c.name for c in hall.clerks}
    short_by: dict[tuple[date, time], int] = {}
    for c in roster.coverage:
        short_by[c.day, c.start] = short_by.get((c.day, c.start), 0) + max(0, c.need - c.planned)
    days = []
    for day in roster.days:
        todays = sorted((a for a in roster.assignments if a.day == day), key=lambda a: a.clerk)
        times = sorted({s.start for a in todays for s in a.slots})
        rows = []
        for a in todays:
            by_time = {s.start: s for s in a.slots}
            cells = []
            for t in times:
                s = by_time.get(t)
                if s is None:
                    cells.append({"css": "", "text": "", "title": ""})
                elif s.activity == "break":
                    cells.append({"css": "break", "text": "休", "title": "午休 break"})
                elif s.activity == "duty" or s.category is None:
                    cells.append({"css": "duty", "text": "·", "title": "在岗（非营业时段）on duty, hall closed"})
                else:
                    win = "" if s.window is None else str(s.window)
                    title = f"{hall.category(s.category).name} {win}号窗口" if win else hall.category(s.category).name
                    cells.append({"css": f"c-{s.category}", "text": f"{prefix[s.category]}{win}", "title": title})
            rows.append(
                {"clerk": a.clerk, "name": names.get(a.clerk, a.clerk), "shift": hall.roster.shift(a.shift).name,
                 "cells": cells}
            )  # fmt: skip
        label = f"{day.isoformat()} 星期{'一二三四五六日'[day.weekday()]}"
        days.append(
            {"label": label, "times": [f"{t:%H:%M}" for t in times], "rows": rows,
             "short": [short_by.get((day, t), 0) for t in times]}
        )  # fmt: skip
    return env.get_template("roster.html").render(
        hall_name=hall.name,
        week_start=roster.week_start.isoformat(),
        status=roster.status,
        objective=f"{roster.objective:.0f}",
        bound=f"{roster.bound:.0f}",
        gap=f"{roster.gap:.2%}",
        seconds=f"{roster.wall_seconds:.1f}",
        under=roster.under_cover(),
        categories=hall.categories,
        colors=colors,
        days=days,
    )


def summary(roster: Roster) -> dict[str, object]:
    return {
        "hall": roster.hall,
        "week_start": roster.week_start.isoformat(),
        "days": [d.isoformat() for d in roster.days],
        "status": roster.status,
        "objective": roster.objective,
        "bound": roster.bound,
        "gap": roster.gap,
        "wall_seconds": round(roster.wall_seconds, 3),
        "first_solution_seconds": roster.first_solution_seconds,
        "under_cover": roster.under_cover(),
        "shifts": len(roster.assignments),
        "unseated": roster.unseated,
    }


def write_roster(hall: Hall, roster: Roster, out_dir: str | Path) -> list[Path]:
    """Write every roster file into ``out_dir`` (created if needed); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_csv(hall, roster, out)
    paths += write_calendars(hall, roster, out)
    html = out / "roster.html"
    html.write_text(render_html(hall, roster), encoding="utf-8")
    meta = out / "summary.json"
    meta.write_text(json.dumps(summary(roster), ensure_ascii=False, indent=2), encoding="utf-8")
    return [*paths, html, meta]


@dataclass(frozen=True)
class IntervalRow:
    """One line of ``intervals.csv``: where a clerk is in one interval."""

    clerk: str
    day: date
    start: time
    end: time
    activity: str
    category: str | None
    window: int | None


def read_intervals(path: str | Path) -> list[IntervalRow]:
    """Read ``intervals.csv`` (or the roster folder holding it) back."""
    p = Path(path)
    if p.is_dir():
        p = p / "intervals.csv"
    out = []
    with p.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out.append(
                IntervalRow(
                    clerk=row["clerk"],
                    day=date.fromisoformat(row["date"]),
                    start=time.fromisoformat(row["start"]),
                    end=time.fromisoformat(row["end"]),
                    activity=row["activity"],
                    category=row["category"] or None,
                    window=int(row["window"]) if row["window"] else None,
                )
            )
    return out
