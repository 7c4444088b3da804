"""Reports (统计报表), all computed from the event log.

:func:`visits` replays a hall's events into one :class:`Visit` per ticket; every
figure below is a pure function of those visits, so a report can be rebuilt at any
time from the audit trail, in any process, with the same result.

Definitions (as printed on the report pages):

* **wait** — first call minus issue (for an appointment: minus check-in); ``within
  target`` is the share of called tickets whose wait was at most the category's
  ``target_wait_minutes``.
* **service time** — start to finish at the window, less the time the ticket was set
  aside (挂起) while the citizen fetched a document.
* **chosen calls (指定呼叫)** — calls a clerk made of a chosen ticket past the calling
  policy (叫指定号), each with its reason in the event.
* **busy / idle / utilisation** (per window and clerk) — busy: a ticket at the window
  (from its call, or its resumption after 挂起, until it leaves); idle: logged in, not
  paused and nobody at the window; utilisation: busy ÷ the hall's open time on those
  days, as on the manager dashboard (so an empty post lowers a window's figure).
* **no-show (过号)** — tickets whose last state is no-show.
* **abandoned (放弃)** — tickets cancelled while waiting, remote tickets that expired
  unchecked, and tickets still waiting when their day ended (never called).
* **one-visit rate (最多跑一次率)** — among finished services, the share whose matter
  (the case number, else the ticket) was finished in a single visit in the period
  and did not end with 一次性告知（补正）, i.e. needed no second trip.
* **rating rate (评价率)** — rated services / finished services; **good-rating rate
  (好评率)** — 非常满意/满意/基本满意 among ratings, leaving out ratings set aside on
  appeal.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .config import Hall
from .model import BAD_LEVELS, GOOD_LEVELS, OUTCOMES, RATING_LEVELS, Event
from .views import open_seconds_today

PERIODS = ("daily", "weekly", "monthly")
DIMENSIONS = ("category", "window", "clerk")


@dataclass
class Visit:
    """One ticket's life in the hall, rebuilt from its events."""

    ticket: str
    number: str
    category: str
    channel: str
    day: date
    issued_at: float
    called_at: float | None = None
    window: int | None = None
    clerk: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    outcome: str | None = None
    case_number: str | None = None
    final: str = "waiting"  # last state: waiting | called | serving | finished | no_show | cancelled | expired
    rating: int | None = None
    indicators: dict[str, int] = field(default_factory=dict)
    rating_set_aside: bool = False  # an appeal against the rating was upheld
    chosen_calls: int = 0  # calls of this ticket made past the policy (叫指定号)
    suspended: float = 0.0  # seconds set aside (挂起) and resumed
    suspended_since: float | None = None

    @property
    def wait(self) -> float | None:
        return None if self.called_at is None else self.called_at - self.issued_at

    @property
    def service(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at - self.suspended


def visits(events: Iterable[Event]) -> list[Visit]:
    """Every ticket of the log with its times, window, clerk, outcome and rating."""
    out: dict[str, Visit] = {}
    clerk_at: dict[int, str | None] = {}
    for e in events:
        d = e.data
        kind = e.type
        if kind == "window.opened":
            clerk_at[d["window"]] = d["clerk"]
        elif kind == "window.closed":
            clerk_at[d["window"]] = None
        elif kind == "clerk.moved":
            if d.get("from_window") is not None:
                clerk_at[d["from_window"]] = None
            clerk_at[d["to_window"]] = d["clerk"]
        elif kind == "ticket.issued":
            out[d["ticket"]] = Visit(
                d["ticket"], d["number"], d["category"], d["channel"], date.fromisoformat(d["day"]), e.at
            )
        elif kind == "followup.appeal_decided" and d["upheld"] and d.get("ticket") in out:
            out[d["ticket"]].rating_set_aside = True
        if kind in ("ticket.expired", "ticket.called"):  # remote tickets passed over unchecked
            for tid in d.get("tickets", d.get("expired", ())):
                if tid in out:
                    out[tid].final = "expired"
        if kind.startswith("ticket.") and d.get("ticket") in out and kind != "ticket.issued":
            _visit_event(out[d["ticket"]], kind, d, e.at, clerk_at)
    return list(out.values())


def _visit_event(v: Visit, kind: str, d: dict[str, Any], at: float, clerk_at: dict[int, str | None]) -> None:
    if kind == "ticket.called":
        v.final = "called"
        v.window = d["window"]
        v.clerk = clerk_at.get(d["window"])
        if v.called_at is None:
            v.called_at = at
        if d.get("rule") == "chosen":
            v.chosen_calls += 1
    elif kind == "ticket.recalled":
        v.final = "called"
    elif kind == "ticket.no_show":
        v.final = "no_show"
    elif kind == "ticket.started":
        v.final, v.started_at = "serving", at
        v.clerk = d.get("clerk") or v.clerk
    elif kind == "ticket.finished":
        v.final, v.finished_at, v.outcome = "finished", at, d["outcome"]
        v.case_number = d.get("case_number")
        v.clerk = d.get("clerk") or v.clerk
    elif kind == "ticket.suspended":
        v.final, v.suspended_since = "suspended", at
    elif kind == "ticket.resumed":
        v.final, v.window = "serving", d["window"]
        v.clerk = d.get("clerk") or v.clerk
        v.suspended += at - (v.suspended_since or at)
        v.suspended_since = None
    elif kind == "ticket.transferred":
        v.final, v.category = "waiting", d["to_category"]
    elif kind == "ticket.cancelled":
        v.final = "cancelled"
    elif kind == "ticket.rated":
        v.rating = d["level"]
        v.indicators = {k: d[k] for k in ("efficiency", "skill", "attitude") if k in d}


def period_of(day: date, period: str) -> str:
    if period == "daily":
        return day.isoformat()
    if period == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "monthly":
        return f"{day:%Y-%m}"
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def _p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def one_visit_flags(vs: Sequence[Visit]) -> dict[str, bool]:
    """Per finished ticket: was its matter finished in one visit with no second trip needed?"""
    visits_per_matter: dict[str, int] = defaultdict(int)
    for v in vs:
        if v.final == "finished":
            visits_per_matter[v.case_number or v.ticket] += 1
    return {
        v.ticket: visits_per_matter[v.case_number or v.ticket] == 1 and v.outcome != "supplement"
        for v in vs
        if v.final == "finished"
    }


def group_key(hall: Hall, v: Visit, by: str) -> str | None:
    if by == "category":
        return v.category
    if by == "window":
        return str(v.window) if v.window is not None else None
    if by == "clerk":
        return v.clerk
    raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}")


def label(hall: Hall, by: str, key: str) -> str:
    try:
        if by == "category":
            return hall.category(key).name
        if by == "clerk":
            return hall.clerk(key).name
    except KeyError:
        return key
    return f"{key}号窗口" if by == "window" else key


COLUMNS: tuple[tuple[str, str], ...] = (
    ("period", "周期"),
    ("key", "对象"),
    ("name", "名称"),
    ("tickets", "取号数"),
    ("called", "呼叫数"),
    ("served", "办结数"),
    ("wait_mean_min", "平均等候(分)"),
    ("wait_p90_min", "P90等候(分)"),
    ("within_target", "达标率"),
    ("service_mean_min", "平均办理(分)"),
    ("no_shows", "过号数"),
    ("abandoned", "放弃数"),
    ("one_visit_rate", "最多跑一次率"),
    ("rated", "评价数"),
    ("rating_rate", "评价率"),
    ("good_rate", "好评率"),
    ("bad", "差评数"),
    ("chosen_calls", "指定呼叫数"),
    ("suspended", "挂起数"),
    ("busy_min", "忙碌(分)"),
    ("idle_min", "空闲(分)"),
    ("utilisation", "利用率"),
    *((f"outcome_{k}", v[0]) for k, v in OUTCOMES.items()),
)


def _row(hall: Hall, vs: list[Visit], flags: dict[str, bool]) -> dict[str, Any]:
    called = [v for v in vs if v.wait is not None]
    waits = [v.wait for v in called if v.wait is not None]
    within = sum(1 for v in called if (v.wait or 0) <= hall.category(v.category).target_wait_minutes * 60)
    finished = [v for v in vs if v.final == "finished"]
    services = [v.service for v in finished if v.service is not None]
    rated = [v for v in finished if v.rating is not None]
    counted = [v for v in rated if not v.rating_set_aside]
    row: dict[str, Any] = {
        "tickets": len(vs),
        "called": len(called),
        "served": len(finished),
        "wait_mean_min": _minutes(_mean(waits)),
        "wait_p90_min": _minutes(_p90(waits)),
        "within_target": _share(within, len(called)),
        "service_mean_min": _minutes(_mean(services)),
        "no_shows": sum(1 for v in vs if v.final == "no_show"),
        "abandoned": sum(1 for v in vs if v.final in ("cancelled", "expired", "waiting")),
        "one_visit_rate": _share(sum(flags[v.ticket] for v in finished), len(finished)),
        "rated": len(rated),
        "rating_rate": _share(len(rated), len(finished)),
        "good_rate": _share(sum(1 for v in counted if v.rating in GOOD_LEVELS), len(counted)),
        "bad": sum(1 for v in counted if v.rating in BAD_LEVELS),
        "chosen_calls": sum(v.chosen_calls for v in vs),
        "suspended": sum(1 for v in vs if v.suspended > 0 or v.final == "suspended"),
    }
    for k in OUTCOMES:
        row[f"outcome_{k}"] = sum(1 for v in finished if v.outcome == k)
    return row


def in_range(vs: Iterable[Visit], start: date, end: date) -> list[Visit]:
    return [v for v in vs if start <= v.day <= end]


def summary(
    hall: Hall, events: Sequence[Event], start: date, end: date, period: str = "daily", by: str = "category"
) -> list[dict[str, Any]]:
    """One row per (period, category | window | clerk) with every figure of :data:`COLUMNS`."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}")
    vs = in_range(visits(events), start, end)
    flags = one_visit_flags(vs)
    groups: dict[tuple[str, str], list[Visit]] = defaultdict(list)
    for v in vs:
        key = group_key(hall, v, by)
        if key is not None:
            groups[(period_of(v.day, period), key)].append(v)
    times = _period_times(hall, events, start, end, period, by) if by != "category" else {}
    for group in times:
        groups.setdefault(group, [])  # logged in all period and served nobody: still a row
    rows = []
    for (p, key), members in sorted(groups.items()):
        row = {"period": p, "key": key, "name": label(hall, by, key)} | _row(hall, members, flags)
        if by != "category":
            row |= times.get((p, key)) or _no_time(hall, p, start, end, period)
        rows.append(row)
    return rows


# ------------------------------------------------------------------ window time (忙碌、空闲、利用率)


@dataclass
class _Spans:
    """Seconds per (day, window or clerk): logged in, paused, busy with a ticket."""

    duty: dict[tuple[date, str], float] = field(default_factory=lambda: defaultdict(float))
    paused: dict[tuple[date, str], float] = field(default_factory=lambda: defaultdict(float))
    busy: dict[tuple[date, str], float] = field(default_factory=lambda: defaultdict(float))


def window_time(hall: Hall, events: Iterable[Event], by: str) -> _Spans:
    """Replay the log into logged-in, paused and busy seconds per day and window (``by="window"``) or
    clerk (``by="clerk"``). Each span counts on the day it began, cut at that day's closing time."""
    spans = _Spans()
    opened: dict[int, tuple[str, float]] = {}  # window -> (clerk, since)
    paused: dict[int, float] = {}
    busy: dict[int, float] = {}

    def add(table: dict[tuple[date, str], float], window: int, since: float, until: float) -> None:
        clerk = opened.get(window, ("", since))[0]
        day = datetime.fromtimestamp(since, hall.tz).date()
        closing = datetime.combine(day, hall.hours.close, hall.tz).timestamp()
        seconds = max(0.0, min(until, closing) - since)
        key = str(window) if by == "window" else clerk
        if key and seconds:
            table[(day, key)] += seconds

    def end_busy(window: int, at: float) -> None:
        if window in busy:
            add(spans.busy, window, busy.pop(window), at)

    def close(window: int, at: float) -> None:
        end_busy(window, at)
        if window in paused:
            add(spans.paused, window, paused.pop(window), at)
        if window in opened:
            add(spans.duty, window, opened[window][1], at)
            opened.pop(window)

    last = 0.0
    for e in events:
        d, at, kind = e.data, e.at, e.type
        last = at
        if kind == "window.opened":
            opened[d["window"]] = (d["clerk"], at)
        elif kind == "clerk.moved":
            if d.get("from_window") is not None:
                close(d["from_window"], at)
            opened[d["to_window"]] = (d["clerk"], at)
        elif kind == "window.closed":
            close(d["window"], at)
        elif kind == "window.paused":
            paused[d["window"]] = at
        elif kind == "window.resumed" and d["window"] in paused:
            add(spans.paused, d["window"], paused.pop(d["window"]), at)
        elif kind in ("ticket.called", "ticket.resumed", "ticket.recalled"):
            busy.setdefault(d["window"], at)
        elif kind in ("ticket.finished", "ticket.no_show", "ticket.transferred", "ticket.suspended"):
            end_busy(d["window"], at)
    for window in list(opened):  # still open when the log ends: counted to that day's closing time
        close(window, max(last, opened[window][1]) + 86400)
    return spans


def _open_seconds(hall: Hall, day: date) -> float:
    return open_seconds_today(hall, datetime.combine(day, hall.hours.close, hall.tz).timestamp())


def _period_times(
    hall: Hall, events: Iterable[Event], start: date, end: date, period: str, by: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """Busy and idle minutes and utilisation per (period, window or clerk)."""
    spans = window_time(hall, events, by)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for i, table in enumerate((spans.duty, spans.paused, spans.busy)):
        for (day, key), seconds in table.items():
            if start <= day <= end:
                sums[(period_of(day, period), key)][i] += seconds
    out = {}
    for (p, key), (duty, pause, busy) in sums.items():
        opened = _period_open_seconds(hall, p, start, end, period)
        out[(p, key)] = {
            "busy_min": round(busy / 60, 1),
            "idle_min": round(max(0.0, duty - pause - busy) / 60, 1),
            "utilisation": round(min(1.0, busy / opened), 3) if opened else None,
        }
    return out


def _period_open_seconds(hall: Hall, p: str, start: date, end: date, period: str) -> float:
    days = (date.fromordinal(o) for o in range(start.toordinal(), end.toordinal() + 1))
    return sum(_open_seconds(hall, day) for day in days if period_of(day, period) == p)


def _no_time(hall: Hall, p: str, start: date, end: date, period: str) -> dict[str, Any]:
    opened = _period_open_seconds(hall, p, start, end, period)
    return {"busy_min": 0.0, "idle_min": 0.0, "utilisation": 0.0 if opened else None}


def totals(hall: Hall, events: Sequence[Event], start: date, end: date) -> dict[str, Any]:
    vs = in_range(visits(events), start, end)
    return _row(hall, vs, one_visit_flags(vs))


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]] = COLUMNS) -> str:
    """CSV with a bilingual header row (Chinese label / key), UTF-8 with BOM for spreadsheet programs."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"{zh} {key}" for key, zh in columns])
    for row in rows:
        writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in columns])
    return "\ufeff" + out.getvalue()


# ------------------------------------------------------------------ appointments

BOOKING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "事项"),
    ("name", "名称"),
    ("booked", "预约数"),
    ("cancelled", "取消"),
    ("checked_in", "按时签到"),
    ("late", "迟到转现场"),
    ("missed", "未到"),
    ("show_rate", "履约率"),
)


def booking_summary(hall: Hall, events: Iterable[Event], start: date, end: date, now: float) -> list[dict[str, Any]]:
    """Per category, the bookings for days in the period: cancelled, checked in, late, missed (未到)."""
    made: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e.data
        if e.type == "booking.made":
            made[d["booking"]] = {
                "category": d["category"],
                "day": d["day"],
                "start": d["slot_start"],
                "state": "booked",
            }
        elif e.type == "booking.cancelled" and d["booking"] in made:
            made[d["booking"]]["state"] = "cancelled"
        elif e.type == "ticket.issued" and d.get("booking") in made:
            made[d["booking"]]["state"] = "late" if d.get("late") else "checked_in"
    late_seconds = hall.appointments.late_minutes * 60
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in made.values():
        if not start <= date.fromisoformat(b["day"]) <= end:
            continue
        c = counts[b["category"]]
        c["booked"] += 1
        if b["state"] == "booked" and b["start"] + late_seconds < now:
            c["missed"] += 1
        elif b["state"] != "booked":
            c[b["state"]] += 1
    rows = []
    for cat, c in sorted(counts.items()):
        due = c["checked_in"] + c["late"] + c["missed"]
        rows.append(
            {"key": cat, "name": label(hall, "category", cat)}
            | {k: c[k] for k in ("booked", "cancelled", "checked_in", "late", "missed")}
            | {"show_rate": _share(c["checked_in"] + c["late"], due)}
        )
    return rows


# ------------------------------------------------------------------ plots


def _figure_svg(fig: Any) -> str:
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a machine without CJK fonts draws boxes, never fails
        fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def plots(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """SVG charts of a summary: tickets and mean/P90 wait per object, over all periods."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    matplotlib.rcParams["font.sans-serif"] = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "DejaVu Sans"]
    matplotlib.rcParams["svg.fonttype"] = "none"
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_name[r["name"]].append(r)
    names = list(by_name)
    tickets = [sum(r["tickets"] for r in by_name[n]) for n in names]
    mean_wait = [_weighted(by_name[n], "wait_mean_min") for n in names]
    out: dict[str, str] = {}
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    ax.bar(names, tickets, color="#3b73b9")
    ax.set_title("取号数 Tickets")
    ax.tick_params(axis="x", labelrotation=45)
    out["tickets"] = _figure_svg(fig)
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    ax.bar(names, mean_wait, color="#d9822b")
    ax.set_title("平均等候（分钟） Mean wait (min)")
    ax.tick_params(axis="x", labelrotation=45)
    out["wait"] = _figure_svg(fig)
    periods = sorted({r["period"] for r in rows})
    if len(periods) > 1:
        fig = Figure(figsize=(8, 3.2))
        ax = fig.subplots()
        for n in names[:8]:
            series = {r["period"]: r["wait_p90_min"] for r in by_name[n]}
            ax.plot(periods, [series.get(p) or math.nan for p in periods], marker="o", label=n)
        ax.set_title("P90 等候（分钟） P90 wait by period")
        ax.legend(fontsize="small")
        ax.tick_params(axis="x", labelrotation=45)
        out["trend"] = _figure_svg(fig)
    return out


def _weighted(rows: list[dict[str, Any]], key: str) -> float:
    pairs = [(r[key], r["called"]) for r in rows if r[key] is not None and r["called"]]
    total = sum(w for _, w in pairs)
    return round(sum(v * w for v, w in pairs) / total, 1) if total else 0.0


# ------------------------------------------------------------------ 好差评 export

EXPORT_FORMAT = "hallq.haochaping.v1"


def rating_export(hall: Hall, events: Sequence[Event], start: date, end: date) -> dict[str, Any]:
    """Ratings of the period for a provincial 好差评 platform adapter (see docs/HAOCHAPING-EXPORT.md).

    No personal data: the record carries the case number, ticket, category, window,
    clerk id, the five-level scores and the follow-up state.
    """
    followups: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e.data
        if e.type == "ticket.rated" and "followup" in d:
            followups[d["ticket"]] = {"id": d["followup"]["id"], "due": d["followup"]["due"], "stage": "verify"}
        elif e.type.startswith("followup."):
            f = next((x for x in followups.values() if x["id"] == d["followup"]), None)
            if f is None:
                continue
            if e.type == "followup.advanced":
                f["stage"] = d["to"]
            elif e.type == "followup.appeal_decided":
                f["appeal"] = "upheld" if d["upheld"] else "rejected"
                if d["upheld"]:
                    f["stage"] = "closed"
            elif e.type == "followup.appealed":
                f["appeal"] = "pending"
    records = []
    for e in events:
        if e.type != "ticket.rated":
            continue
        d = e.data
        day = datetime.fromisoformat(e.ts).date()
        if not start <= day <= end:
            continue
        cat = hall.category(d["category"])
        records.append(
            {
                "evaluation_id": f"{hall.id}-{e.seq}",
                "evaluated_at": e.ts,
                "case_number": d.get("case_number"),
                "ticket": d["ticket"],
                "channel": "offline_window",
                "category": {"id": cat.id, "name": cat.name},
                "window": d.get("window"),
                "clerk": d.get("clerk"),
                "scores": {
                    "overall": d["level"],
                    "efficiency": d.get("efficiency"),
                    "skill": d.get("skill"),
                    "attitude": d.get("attitude"),
                },
                "level_name": _level_name(d["level"]),
                "reason": d.get("reason"),
                "followup": followups.get(d["ticket"]),
            }
        )
    return {
        "format": EXPORT_FORMAT,
        "hall": {"id": hall.id, "name": hall.name},
        "from": start.isoformat(),
        "to": end.isoformat(),
        "count": len(records),
        "records": records,
    }


def _level_name(level: int) -> str:
    return RATING_LEVELS[level][0]


# ------------------------------------------------------------------ 考评 (quarterly evaluation)

EVALUATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("clerk", "工号"),
    ("name", "姓名"),
    ("quarter", "季度"),
    ("days_on_duty", "在岗天数"),
    ("hours_on_duty", "在岗小时"),
    ("served", "办件数"),
    ("served_per_hour", "每小时办件"),
    ("workload", "工作量系数"),
    ("utilisation", "利用率"),
    ("idle_hours", "空闲小时"),
    ("service_mean_min", "平均办理(分)"),
    ("wait_mean_min", "平均等候(分)"),
    ("within_target", "等候达标率"),
    ("no_shows", "过号数"),
    ("one_visit_rate", "最多跑一次率"),
    ("rating_rate", "评价率"),
    ("good_rate", "好评率"),
    ("bad", "差评数"),
    ("score", "考评得分"),
)


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """``2026Q4`` -> (2026-10-01, 2026-12-31)."""
    try:
        year, q = int(quarter[:4]), int(quarter[-1])
        if quarter[4:5].upper() != "Q" or not 1 <= q <= 4 or len(quarter) != 6:
            raise ValueError
    except ValueError:
        raise ValueError(f"季度格式应为 2026Q4 (quarter must look like 2026Q4, got {quarter!r})") from None
    first = date(year, 3 * q - 2, 1)
    last = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return first, date.fromordinal(last.toordinal() - 1)


def duty_hours(hall: Hall, events: Sequence[Event], start: date, end: date) -> dict[str, tuple[int, float]]:
    """Per clerk: (days on duty, hours logged in at a window) — a window left open counts to closing time."""
    opened: dict[str, float] = {}
    hours: dict[str, float] = defaultdict(float)
    days: dict[str, set[date]] = defaultdict(set)

    def close(clerk: str, at: float) -> None:
        begin = opened.pop(clerk, None)
        if begin is None:
            return
        day = datetime.fromtimestamp(begin, hall.tz).date()
        if start <= day <= end:
            end_of_day = datetime.combine(day, hall.hours.close, hall.tz).timestamp()
            hours[clerk] += max(0.0, min(at, end_of_day) - begin) / 3600
            days[clerk].add(day)

    clerk_at: dict[int, str] = {}
    for e in events:
        d = e.data
        if e.type in ("window.opened", "clerk.moved"):
            win = d["window"] if e.type == "window.opened" else d["to_window"]
            close(d["clerk"], e.at)
            opened[d["clerk"]] = e.at
            clerk_at[win] = d["clerk"]
        elif e.type == "window.closed" and d.get("clerk"):
            close(d["clerk"], e.at)
    for clerk, begin in list(opened.items()):
        close(clerk, begin + 86400)
    return {c: (len(days[c]), round(hours[c], 1)) for c in hours}


def evaluation(hall: Hall, events: Sequence[Event], quarter: str) -> list[dict[str, Any]]:
    """考评表: one row per clerk for the quarter, from the same figures as the reports.

    Score (out of 100): 30 × workload + 30 × good-rating rate + 10 × rating rate + 15 × share
    of waits within target + 15 × one-visit rate, minus 2 per bad rating not set aside on
    appeal. The workload (工作量系数) is the clerk's services per hour on duty against the
    median of the clerks who served anybody, at most 1; the quality rates count only for a
    clerk who finished services, so a clerk with none scores 0 however their calls went.
    """
    start, end = quarter_bounds(quarter)
    rows = {r["key"]: r for r in _by_clerk(hall, events, start, end)}
    duty = duty_hours(hall, events, start, end)
    spans = window_time(hall, events, "clerk")
    opened = sum(_open_seconds(hall, date.fromordinal(o)) for o in range(start.toordinal(), end.toordinal() + 1))
    rates = {c: r["served"] / duty[c][1] for c, r in rows.items() if r["served"] and c in duty and duty[c][1] > 0}
    norm = sorted(rates.values())[len(rates) // 2] if rates else 0.0
    out = []
    for clerk in sorted(set(rows) | set(duty)):
        r = rows.get(clerk) or {"served": 0, "bad": 0}
        days_on, hours_on = duty.get(clerk, (0, 0.0))
        workload = round(min(1.0, rates[clerk] / norm), 2) if clerk in rates and norm else 0.0
        quality = 0.0
        if r["served"]:
            quality = (
                30 * (r.get("good_rate") or 0)
                + 10 * (r.get("rating_rate") or 0)
                + 15 * (r.get("within_target") or 0)
                + 15 * (r.get("one_visit_rate") or 0)
            )
        score = 30 * workload + quality - 2 * r["bad"]
        busy = _clerk_sum(spans.busy, clerk, start, end)
        idle = _clerk_sum(spans.duty, clerk, start, end) - _clerk_sum(spans.paused, clerk, start, end) - busy
        out.append(
            {
                "clerk": clerk,
                "name": label(hall, "clerk", clerk),
                "quarter": quarter.upper(),
                "days_on_duty": days_on,
                "hours_on_duty": hours_on,
                "served": r["served"],
                "served_per_hour": round(r["served"] / hours_on, 2) if hours_on else None,
                "workload": workload,
                "utilisation": round(min(1.0, busy / opened), 3) if opened else None,
                "idle_hours": round(max(0.0, idle) / 3600, 1),
                "service_mean_min": r.get("service_mean_min"),
                "wait_mean_min": r.get("wait_mean_min"),
                "within_target": r.get("within_target"),
                "no_shows": r.get("no_shows", 0),
                "one_visit_rate": r.get("one_visit_rate"),
                "rating_rate": r.get("rating_rate"),
                "good_rate": r.get("good_rate"),
                "bad": r["bad"],
                "score": round(max(0.0, score), 1),
            }
        )
    out.sort(key=lambda row: -row["score"])
    return out


def _clerk_sum(table: dict[tuple[date, str], float], clerk: str, start: date, end: date) -> float:
    return sum(seconds for (day, key), seconds in table.items() if key == clerk and start <= day <= end)


def _by_clerk(hall: Hall, events: Sequence[Event], start: date, end: date) -> list[dict[str, Any]]:
    vs = in_range(visits(events), start, end)
    flags = one_visit_flags(vs)
    groups: dict[str, list[Visit]] = defaultdict(list)
    for v in vs:
        if v.clerk is not None:
            groups[v.clerk].append(v)
    return [{"key": k, "name": label(hall, "clerk", k)} | _row(hall, g, flags) for k, g in groups.items()]


def parse_day(value: str, field_name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field_name}: 日期格式应为 2026-11-01 (expected a date like 2026-11-01)") from None
