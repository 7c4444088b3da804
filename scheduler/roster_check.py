"""The independent roster check (排班检查): does a written roster keep every rule?

``hallq roster check roster/roster.csv --config config.yaml`` reads the files the roster
command writes (``roster.csv``, and ``intervals.csv`` beside it when present) and checks
them against the configuration alone — no solver, no model — so a roster edited by hand,
or produced by another tool, is checked the same way as the solver's own:

- the clerk and the shift exist, the shift is one the contract allows, with the
  template's times; one shift a day; the hall is open that day;
- availability: ``days_off``, ``unavailable``; the longest day (``max_hours_per_day``);
- the break: as long as the template says, inside its ``break_window``;
- skills: the window accepts what the clerk is trained for; per interval (from
  ``intervals.csv``), the category served is a skill, the window accepts it, one clerk
  per window, and every category with demand keeps its hard floor (``roster.min_cover``,
  ``roster.hard_cover``);
- the cross-day rules of :mod:`scheduler.roster_rules`: weekly hours, successions,
  shifts of a type, runs of working days and of days off, weekends.

Each violation reads in Chinese first, e.g. 「张伟 12月7日–13日 只连休 1 天，无法满足至少2个连休日」.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path

from queue_server.config import Hall
from queue_server.errors import HallqError

from .export import ROSTER_COLUMNS, IntervalRow, read_intervals
from .roster_rules import Violation, for_hall, hard_floor, request_penalties, violations, zh_date
from .staffing import staffing_plan


@dataclass(frozen=True)
class ShiftRow:
    """One line of ``roster.csv``."""

    line: int
    clerk: str
    day: date
    start: time
    end: time
    break_start: time | None
    break_end: time | None
    window: int | None
    shift: str


@dataclass
class CheckResult:
    violations: list[Violation]
    days: list[date]
    shifts: int
    request_penalty: tuple[int, int]  # (shift-on, shift-off) weights of requests not granted


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _opt_time(text: str) -> time | None:
    return time.fromisoformat(text) if text else None


def read_roster(path: str | Path) -> list[ShiftRow]:
    """Read ``roster.csv``; a malformed line is a :class:`HallqError` naming it."""
    p = Path(path)
    try:
        f = p.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise HallqError(f"无法读取排班表 {p} (cannot read the roster: {exc})") from None
    rows = []
    with f:
        reader = csv.DictReader(f)
        missing = [c for c in ROSTER_COLUMNS[:8] if c not in (reader.fieldnames or [])]
        if missing:
            raise HallqError(f"{p}: 缺少列 {', '.join(missing)} (missing columns; expected {','.join(ROSTER_COLUMNS)})")
        for n, row in enumerate(reader, start=2):
            try:
                rows.append(
                    ShiftRow(
                        line=n,
                        clerk=row["clerk"],
                        day=date.fromisoformat(row["date"]),
                        start=time.fromisoformat(row["start"]),
                        end=time.fromisoformat(row["end"]),
                        break_start=_opt_time(row["break_start"]),
                        break_end=_opt_time(row["break_end"]),
                        window=int(row["window"]) if row["window"] else None,
                        shift=row["shift"],
                    )
                )
            except (ValueError, TypeError) as exc:
                raise HallqError(f"{p} 第 {n} 行格式有误 (line {n} is malformed: {exc})") from None
    return rows


def horizon_of(path: Path, rows: Sequence[ShiftRow]) -> list[date]:
    """The roster's days: from ``summary.json`` beside it, else first to last date in the file."""
    meta = path.parent / "summary.json"
    if meta.exists():
        days = json.loads(meta.read_text(encoding="utf-8")).get("days")
        if days:
            return [date.fromisoformat(d) for d in days]
    if not rows:
        return []
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def check_roster(
    hall: Hall,
    rows: Sequence[ShiftRow],
    days: Sequence[date],
    intervals: Sequence[IntervalRow] | None = None,
    lag: bool = True,
) -> CheckResult:
    """Every rule ``rows`` (and ``intervals``) break over ``days``."""
    out: list[Violation] = []
    clerks = {c.id: c for c in hall.clerks}
    shifts = {s.id: s for s in hall.roster.shifts}
    index = {day: d for d, day in enumerate(days)}

    def add(kind: str, person: str, zh: str, en: str) -> None:
        out.append(Violation(kind, person, zh, en))

    worked: dict[tuple[str, int], str] = {}
    for r in rows:
        clerk = clerks.get(r.clerk)
        template = shifts.get(r.shift)
        where = f"{zh_date(r.day)}"
        if clerk is None or template is None:
            what = f"未知人员 {r.clerk!r}" if clerk is None else f"未知班次 {r.shift!r}"
            add("unknown", r.clerk, f"第 {r.line} 行 {what}", f"line {r.line}: unknown clerk or shift")
            continue
        who = f"{clerk.name} {where}"
        if r.day not in index:
            add("horizon", r.clerk, f"{who} 不在排班周期内", f"{r.clerk} {r.day}: outside the roster's days")
            continue
        if (r.clerk, index[r.day]) in worked:
            add("one_shift", r.clerk, f"{who} 排了不止一个班次", f"{r.clerk} {r.day}: more than one shift")
            continue
        worked[r.clerk, index[r.day]] = r.shift
        if not hall.hours.is_working_day(r.day):
            add("closed", r.clerk, f"{who} 大厅不开放却排了班", f"{r.clerk} {r.day}: the hall is closed")
        if clerk.shifts is not None and r.shift not in clerk.shifts:
            add(
                "contract",
                r.clerk,
                f"{who} 「{template.name}」不在其合同允许的班次内",
                f"{r.clerk} {r.day}: shift {r.shift} is not in the contract",
            )
        if (r.start, r.end) != (template.start, template.end):
            add(
                "shift_times",
                r.clerk,
                f"{who} 班次时间 {r.start:%H:%M}–{r.end:%H:%M} 与「{template.name}」不符",
                f"{r.clerk} {r.day}: {r.start:%H:%M}–{r.end:%H:%M} is not shift {r.shift}'s time",
            )
        if clerk.max_hours_per_day is not None and template.paid_minutes() > clerk.max_hours_per_day * 60 + 1e-9:
            add(
                "hours",
                r.clerk,
                f"{who} 工作 {template.paid_minutes() / 60:g} 小时，超过每天上限 {clerk.max_hours_per_day:g} 小时",
                f"{r.clerk} {r.day}: longer than max_hours_per_day",
            )
        for u in clerk.unavailable:
            if u.start is not None and u.covers(r.day, r.start, r.end):
                add(
                    "availability",
                    r.clerk,
                    f"{who} {u.start:%H:%M}–{u.end:%H:%M} 不可上班却排了班",
                    f"{r.clerk} {r.day}: unavailable {u.start:%H:%M}–{u.end:%H:%M}",
                )
        out.extend(_break_violations(r, who, template.break_minutes, template.break_window))
        if r.window is not None:
            accepts = set(hall.window_categories(r.window)) if r.window in {w.number for w in hall.windows} else set()
            if not accepts & set(clerk.skills):
                add(
                    "skills",
                    r.clerk,
                    f"{who} 安排在 {r.window} 号窗口，但不具备该窗口任何事项的受理资质",
                    f"{r.clerk} {r.day}: not trained for anything window {r.window} serves",
                )
    rules = for_hall(hall, days)
    out += violations(rules, worked)
    if intervals is not None:
        out += _interval_violations(hall, intervals, days, lag)
    return CheckResult(out, list(days), len(rows), request_penalties(rules, worked))


def _break_violations(r: ShiftRow, who: str, minutes: int, window: object) -> list[Violation]:
    if not minutes:
        if r.break_start is not None:
            return [
                Violation("break", r.clerk, f"{who} 该班次没有午休却排了午休", f"{r.clerk} {r.day}: unexpected break")
            ]
        return []
    if r.break_start is None or r.break_end is None:
        return [
            Violation("break", r.clerk, f"{who} 缺少 {minutes} 分钟午休", f"{r.clerk} {r.day}: the break is missing")
        ]
    out = []
    length = _minutes(r.break_end) - _minutes(r.break_start)
    if length != minutes:
        out.append(
            Violation(
                "break",
                r.clerk,
                f"{who} 午休 {length} 分钟，应为 {minutes} 分钟",
                f"{r.clerk} {r.day}: break of {length} min, not {minutes}",
            )
        )
    lo, hi = getattr(window, "start", None), getattr(window, "end", None)
    if lo is not None and hi is not None and not (lo <= r.break_start and r.break_end <= hi):
        out.append(
            Violation(
                "break",
                r.clerk,
                f"{who} 午休 {r.break_start:%H:%M}–{r.break_end:%H:%M} 不在 {lo:%H:%M}–{hi:%H:%M} 之内",
                f"{r.clerk} {r.day}: break outside its window",
            )
        )
    return out


def _interval_violations(
    hall: Hall, intervals: Sequence[IntervalRow], days: Sequence[date], lag: bool
) -> list[Violation]:
    out: list[Violation] = []
    clerks = {c.id: c for c in hall.clerks}
    names = {c.id: c.name for c in hall.categories}
    windows = {w.number for w in hall.windows}
    seated: dict[tuple[date, time, int], str] = {}
    cover: dict[tuple[date, time, str], int] = defaultdict(int)
    for r in intervals:
        if r.activity != "serve" or r.category is None or r.clerk not in clerks:
            continue
        clerk = clerks[r.clerk]
        who = f"{clerk.name} {zh_date(r.day)} {r.start:%H:%M}"
        cover[r.day, r.start, r.category] += 1
        if r.category not in clerk.skills:
            out.append(
                Violation(
                    "skills",
                    r.clerk,
                    f"{who} 办理「{names.get(r.category, r.category)}」但不具备受理资质",
                    f"{r.clerk} {r.day} {r.start:%H:%M}: not trained for {r.category}",
                )
            )
        if r.window is None:
            continue
        if r.window not in windows or r.category not in hall.window_categories(r.window):
            out.append(
                Violation(
                    "skills",
                    r.clerk,
                    f"{who} {r.window} 号窗口不办理「{names.get(r.category, r.category)}」",
                    f"{r.clerk} {r.day} {r.start:%H:%M}: window {r.window} does not serve {r.category}",
                )
            )
        other = seated.get((r.day, r.start, r.window))
        if other is not None:
            out.append(
                Violation(
                    "window",
                    r.clerk,
                    f"{who} {r.window} 号窗口同时安排了 {clerks[other].name}",
                    f"{r.clerk} {r.day} {r.start:%H:%M}: window {r.window} is taken by {other}",
                )
            )
        seated[r.day, r.start, r.window] = r.clerk
    step = hall.roster.interval_minutes
    for day in days:
        if not hall.hours.is_working_day(day):
            continue
        plan = staffing_plan(hall, day, step, lag=lag)
        for i, start in enumerate(plan.starts):
            if not plan.open[i]:
                continue
            for cat, need in plan.needs.items():
                n = need.scheduled[i]
                floor = hard_floor(hall, n)
                got = cover.get((day, start, cat), 0)
                if got < floor:
                    out.append(
                        Violation(
                            "cover",
                            "",
                            f"{zh_date(day)} {start:%H:%M}「{names[cat]}」在岗 {got} 人，少于必须的 {floor} 人",
                            f"{day} {start:%H:%M} {cat}: {got} clerk(s), the hard floor is {floor}",
                        )
                    )
    return out


def check_files(hall: Hall, path: str | Path, days: Sequence[date] | None = None, lag: bool = True) -> CheckResult:
    """Check ``roster.csv`` at ``path`` (and ``intervals.csv`` beside it, when present)."""
    p = Path(path)
    if p.is_dir():
        p = p / "roster.csv"
    rows = read_roster(p)
    beside = p.parent / "intervals.csv"
    intervals = read_intervals(beside) if beside.exists() else None
    return check_roster(hall, rows, days or horizon_of(p, rows), intervals, lag)


def report(result: CheckResult) -> list[str]:
    """The check as printed lines, Chinese first."""
    n = len(result.violations)
    head = f"排班检查 Roster check: {result.shifts} 个班次 shifts, {n} 处违规 ({n} violations)"
    on_pen, off_pen = result.request_penalty
    lines = [head]
    if on_pen or off_pen:
        lines.append(f"  未满足的申请 requests not granted: 上班申请 shift-on {on_pen}, 休息申请 shift-off {off_pen}")
    lines += [f"  - {v}" for v in result.violations]
    return lines
