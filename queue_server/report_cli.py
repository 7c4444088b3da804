"""``hallq report``: the period's reports from the event log, written to a folder.

Writes ``index.html`` (tables and plots), one CSV per dimension
(``by-category.csv``, ``by-window.csv``, ``by-clerk.csv``), ``bookings.csv`` (预约履约), ``ratings.json`` (the
好差评 export, see docs/HAOCHAPING-EXPORT.md) and ``evaluation-<quarter>.csv`` for
each quarter the period touches.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
from datetime import date
from pathlib import Path
from typing import Any

from . import reports
from .clock import SystemClock
from .config import load_config
from .errors import HallqError


def _quarters(start: date, end: date) -> list[str]:
    out = []
    y, q = start.year, (start.month - 1) // 3 + 1
    while (y, q) <= (end.year, (end.month - 1) // 3 + 1):
        out.append(f"{y}Q{q}")
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return out


def _table(columns: tuple[tuple[str, str], ...], rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(zh)}</th>" for _, zh in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if r.get(k) is None else str(r.get(k)))}</td>" for k, _ in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


async def _read(args: argparse.Namespace) -> int:
    from .cli import open_store

    dep = load_config(args.config)
    hall_id = args.hall or dep.halls[0].id
    try:
        hall = dep.hall(hall_id)
    except KeyError:
        raise HallqError(f"--hall: no hall {hall_id!r} in {args.config}") from None
    try:
        start, end = reports.parse_day(args.start, "--from"), reports.parse_day(args.end, "--to")
    except ValueError as exc:
        raise HallqError(str(exc)) from None
    if end < start:
        raise HallqError("--to 早于 --from (--to is before --from)")
    store = open_store(dep, args.redis)
    try:
        events = await store.read(hall.id, 0)
    finally:
        await store.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>{html.escape(hall.name)} 统计报表 {start} — {end}</h1>",
        f"<p>{html.escape(json.dumps(reports.totals(hall, events, start, end), ensure_ascii=False))}</p>",
    ]
    for by in reports.DIMENSIONS:
        rows = reports.summary(hall, events, start, end, args.period, by)
        (out / f"by-{by}.csv").write_text(reports.to_csv(rows), encoding="utf-8")
        parts.append(f"<h2>按{ {'category': '事项', 'window': '窗口', 'clerk': '人员'}[by] } By {by}</h2>")
        parts += list(reports.plots(rows).values())
        parts.append(_table(reports.COLUMNS, rows))
    bookings = reports.booking_summary(hall, events, start, end, SystemClock().now())
    (out / "bookings.csv").write_text(reports.to_csv(bookings, reports.BOOKING_COLUMNS), encoding="utf-8")
    parts.append("<h2>预约履约 Appointments</h2>" + _table(reports.BOOKING_COLUMNS, bookings))
    export = reports.rating_export(hall, events, start, end)
    (out / "ratings.json").write_text(json.dumps(export, ensure_ascii=False, indent=2), encoding="utf-8")
    for quarter in _quarters(start, end):
        rows = reports.evaluation(hall, events, quarter)
        (out / f"evaluation-{quarter}.csv").write_text(
            reports.to_csv(rows, reports.EVALUATION_COLUMNS), encoding="utf-8"
        )
        parts.append(f"<h2>{quarter} 季度考评 Evaluation</h2>" + _table(reports.EVALUATION_COLUMNS, rows))
    page = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>hallq report</title>'
        "<style>table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
    (out / "index.html").write_text(page, encoding="utf-8")
    print(f"wrote {out}/index.html, by-*.csv, ratings.json ({export['count']} ratings), evaluation-*.csv")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    return asyncio.run(_read(args))


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("report", help="reports from the event log: HTML with plots, CSV, ratings export")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--hall", help="hall id (default: the first hall)")
    p.add_argument("--from", dest="start", required=True, help="first day, e.g. 2026-11-01")
    p.add_argument("--to", dest="end", required=True, help="last day, e.g. 2026-11-30")
    p.add_argument("--period", choices=reports.PERIODS, default="daily")
    p.add_argument("--out", default="report", help="folder to write (created)")
    p.add_argument("--redis", help="read from this Redis URL instead of the embedded journal")
    p.set_defaults(handler=cmd_report)
