"""Rosters (排班表): which clerk sits at which window, when, with which break.

A roster is a list of :class:`Shift` rows, one per clerk per day. The scheduler
(``scheduler/``) writes it as CSV with the columns
``clerk,date,start,end,break_start,break_end,window``; :func:`read_roster_csv`
reads it back. Without a roster every clerk with a ``home_window`` works that
window through the opening hours, the window closed over lunch
(:func:`default_shifts`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from queue_server.config import Hall
from queue_server.errors import HallqError

COLUMNS = ("clerk", "date", "start", "end", "break_start", "break_end", "window")


class RosterError(HallqError):
    """A roster file that cannot be used; the message names the row and column."""


@dataclass(frozen=True, slots=True)
class Shift:
    """One clerk's working day at one window, with an optional break."""

    clerk: str
    day: date
    start: time
    end: time
    window: int
    break_start: time | None = None
    break_end: time | None = None

    def spans(self) -> list[tuple[time, time]]:
        """The periods the clerk is at the window (the shift minus its break)."""
        if self.break_start is None or self.break_end is None:
            return [(self.start, self.end)]
        return [(self.start, self.break_start), (self.break_end, self.end)]


@dataclass(frozen=True)
class Roster:
    shifts: tuple[Shift, ...]

    def for_day(self, day: date) -> list[Shift]:
        return [s for s in self.shifts if s.day == day]


def default_shifts(hall: Hall, day: date) -> list[Shift]:
    """Each clerk with a home window works it all opening hours; lunch closes the window.

    A hall that lists no clerks at all opens every window all day (with a nominal clerk
    ``window-<n>``), so a planner can size windows before naming anybody."""
    h = hall.hours
    lunch = (h.lunch.start, h.lunch.end) if h.lunch else (None, None)
    if not hall.clerks:
        return [Shift(f"window-{w.number}", day, h.open, h.close, w.number, *lunch) for w in hall.windows]
    return [
        Shift(clerk.id, day, h.open, h.close, clerk.home_window, *lunch)
        for clerk in hall.clerks
        if clerk.home_window is not None
    ]


def shifts_for(hall: Hall, day: date, roster: Roster | None) -> list[Shift]:
    return roster.for_day(day) if roster is not None else default_shifts(hall, day)


def _time(text: str, row: int, column: str) -> time:
    try:
        hh, mm = text.strip().split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise RosterError(
            f"排班表第{row}行 {column} 不是时间 (row {row}, {column}: expected HH:MM, got {text!r})"
        ) from None


def parse_roster(rows: Iterable[dict[str, str]], hall: Hall | None = None) -> Roster:
    """Check and convert CSV rows (dicts by column) into a :class:`Roster`."""
    shifts = []
    windows = {w.number for w in hall.windows} if hall else None
    clerks = {c.id for c in hall.clerks} if hall else None
    for i, r in enumerate(rows, start=2):  # row 1 is the header
        missing = [c for c in COLUMNS if c not in r or r[c] is None]
        if missing:
            raise RosterError(f"排班表缺少列 {missing[0]} (missing column {missing[0]!r})")
        try:
            day = date.fromisoformat(r["date"].strip())
        except ValueError:
            raise RosterError(f"排班表第{i}行 date 不是日期 (row {i}, date: expected YYYY-MM-DD)") from None
        try:
            window = int(r["window"])
        except ValueError:
            raise RosterError(f"排班表第{i}行 window 不是窗口号 (row {i}, window: expected a number)") from None
        start, end = _time(r["start"], i, "start"), _time(r["end"], i, "end")
        if end <= start:
            raise RosterError(f"排班表第{i}行下班时间早于上班时间 (row {i}: end must be after start)")
        bs = _time(r["break_start"], i, "break_start") if r["break_start"].strip() else None
        be = _time(r["break_end"], i, "break_end") if r["break_end"].strip() else None
        if (bs is None) != (be is None) or (bs and be and not (start <= bs < be <= end)):
            raise RosterError(f"排班表第{i}行休息时间不在班次内 (row {i}: the break must lie inside the shift)")
        clerk = r["clerk"].strip()
        if windows is not None and window not in windows:
            raise RosterError(f"排班表第{i}行没有{window}号窗口 (row {i}: unknown window {window})")
        if clerks is not None and clerk not in clerks:
            raise RosterError(f"排班表第{i}行没有工作人员 {clerk} (row {i}: unknown clerk {clerk!r})")
        shifts.append(Shift(clerk, day, start, end, window, bs, be))
    return Roster(tuple(shifts))


def read_roster_csv(path: str | Path, hall: Hall | None = None) -> Roster:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return parse_roster(csv.DictReader(f), hall)
    except OSError as exc:
        raise RosterError(f"无法读取排班表 (cannot read roster {path}): {exc}") from None


def write_roster_csv(roster: Roster, path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for s in roster.shifts:
            w.writerow(
                [
                    s.clerk,
                    s.day.isoformat(),
                    f"{s.start:%H:%M}",
                    f"{s.end:%H:%M}",
                    f"{s.break_start:%H:%M}" if s.break_start else "",
                    f"{s.break_end:%H:%M}" if s.break_end else "",
                    s.window,
                ]
            )
