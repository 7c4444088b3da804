"""The ``hallq`` command.

Sub-commands live next to what they drive: this module holds the hall core's
(``check-config``, ``events``), and each package may add its own through a
``register(subparsers)`` function in its ``cli`` module (see :data:`EXTENSIONS`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from .config import Deployment, Hall, load_config
from .errors import ConfigError, HallqError
from .model import Event
from .stores.base import Store

# Packages that add sub-commands; each module defines register(subparsers).
EXTENSIONS = (
    "queue_server.server_cli",
    "queue_server.demo",
    "queue_server.report_cli",
    "simulation.cli",
    "scheduler.cli",
)

Handler = Callable[[argparse.Namespace], int]


def _load(path: str) -> Deployment:
    return load_config(path)


def hall_arg(path: str, hall_id: str | None) -> Hall:
    """The hall ``--hall`` names in the file at ``path`` (the first hall by default)."""
    dep = load_config(path)
    if hall_id is None:
        return dep.halls[0]
    try:
        return dep.hall(hall_id)
    except KeyError:
        known = ", ".join(h.id for h in dep.halls)
        raise HallqError(f"--hall: {path} 中没有大厅 {hall_id!r} (no hall {hall_id!r}; halls: {known})") from None


def date_arg(text: str) -> date:
    """An argparse type for YYYY-MM-DD dates, with a message that names the format."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"日期格式应为 YYYY-MM-DD (expected a date like 2026-12-07, got {text!r})"
        ) from None


def print_config_error(err: ConfigError, out: TextIO | None = None) -> None:
    # sys.stderr is looked up at call time (a default bound at import misses redirections)
    out = out or sys.stderr
    print(f"配置文件有误 (configuration errors) in {err.source or 'config'}:", file=out)
    for issue in err.issues:
        print(f"  - {issue}", file=out)


def summarize_hall(hall: Hall) -> str:
    lines = [f"大厅 Hall {hall.id}: {hall.name}" + (f" / {hall.name_en}" if hall.name_en else "")]
    if hall.example:
        lines.append("  (示例配置 — example data)")
    h = hall.hours
    lunch = f", 午休 lunch {h.lunch.start:%H:%M}–{h.lunch.end:%H:%M}" if h.lunch else ""
    lines.append(f"  营业时间 Hours: {','.join(h.days)} {h.open:%H:%M}–{h.close:%H:%M}{lunch} ({hall.timezone})")
    comp = [c for c in hall.window_classes if c.kind == "comprehensive"]
    spec = [c for c in hall.window_classes if c.kind == "specialised"]
    lines.append(
        f"  窗口 Windows: {len(hall.windows)} in {len(hall.zones)} zones; "
        f"classes {len(comp)}+{len(spec)} (comprehensive+specialised)"
    )
    for zone in hall.zones:
        nums = [w for w in hall.windows if w.zone == zone.id]
        lines.append(f"    {zone.name} ({zone.id}): " + ", ".join(f"{w.number}[{w.window_class}]" for w in nums))
    lines.append(f"  事项类别 Categories: {len(hall.categories)}")
    for cat in hall.categories:
        cap = f", 每日上限 cap {cat.daily_cap}" if cat.daily_cap else ""
        lines.append(
            f"    {cat.prefix}  {cat.name} / {cat.name_en or cat.id}: 目标等候 ≤{cat.target_wait_minutes} min, "
            f"{len(cat.materials)} materials{cap}"
        )
    lines.append(f"  工作人员 Clerks: {len(hall.clerks)}")
    groups = ", ".join(g.name for g in hall.priority_groups) or "—"
    lines.append(f"  优先群体 Priority groups: {groups}")
    lines.append(f"  叫号策略 Policy: {hall.policy.name} (max wait {hall.policy.max_wait_minutes:g} min)")
    return "\n".join(lines)


def cmd_check_config(args: argparse.Namespace) -> int:
    dep = _load(args.config)
    for hall in dep.halls:
        print(summarize_hall(hall))
    print(f"OK: {args.config} is valid ({len(dep.halls)} hall{'s' if len(dep.halls) > 1 else ''}).")
    return 0


def open_store(dep: Deployment, redis_url: str | None) -> Store:
    if redis_url:
        from .stores.redis import RedisStore

        return RedisStore(redis_url)
    from .stores.memory import MemoryStore

    return MemoryStore(dep.storage.data_dir, dep.storage.fsync)


EXPORT_COLUMNS = ("seq", "ts", "hall", "actor", "type", "ticket", "number", "category", "window", "clerk", "data")


def write_events(events: Sequence[Event], fmt: str, out: TextIO) -> None:
    if fmt == "jsonl":
        for e in events:
            out.write(e.to_json() + "\n")
        return
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for e in events:
        d = e.data
        writer.writerow(
            [
                e.seq,
                e.ts,
                e.hall,
                e.actor,
                e.type,
                d.get("ticket", ""),
                d.get("number", ""),
                d.get("category", ""),
                d.get("window", d.get("to_window", "")),
                d.get("clerk", ""),
                json.dumps(d, ensure_ascii=False),
            ]
        )


async def _export(args: argparse.Namespace) -> int:
    dep = _load(args.config)
    hall_id = args.hall or dep.halls[0].id
    try:
        dep.hall(hall_id)
    except KeyError:
        known = ", ".join(h.id for h in dep.halls)
        raise HallqError(f"--hall: no hall {hall_id!r} in {args.config} (halls: {known})") from None
    if args.redis:
        store = open_store(dep, args.redis)
        try:
            events = await store.read(hall_id, args.after)
        finally:
            await store.close()
    else:  # read-only: works while a server holds the journal
        from .stores.memory import read_journal

        events = read_journal(Path(dep.storage.data_dir) / f"{hall_id}.journal")[max(args.after, 0) :]
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            write_events(events, args.format, out)
        print(f"wrote {len(events)} events to {args.output}", file=sys.stderr)
    else:
        write_events(events, args.format, sys.stdout)
    return 0


def cmd_events_export(args: argparse.Namespace) -> int:
    return asyncio.run(_export(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hallq", description="hallq — 政务服务大厅排队叫号与窗口调度")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check-config", help="validate a hall configuration and print its summary")
    p.add_argument("config", help="path to config.yaml")
    p.set_defaults(handler=cmd_check_config)

    ev = sub.add_parser("events", help="the event log (audit trail)")
    ev_sub = ev.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    ex = ev_sub.add_parser("export", help="export a hall's events as JSON lines or CSV")
    ex.add_argument("--config", default="config.yaml")
    ex.add_argument("--hall", help="hall id (default: the first hall)")
    ex.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    ex.add_argument("--redis", help="read from this Redis URL instead of the embedded journal")
    ex.add_argument("--after", type=int, default=0, help="only events with seq greater than this")
    ex.add_argument("--output", "-o", help="file to write (default: standard output)")
    ex.set_defaults(handler=cmd_events_export)

    for name in EXTENSIONS:
        try:
            module: Any = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except ConfigError as err:
        print_config_error(err)
        return 2
    except HallqError as err:
        print(f"hallq: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
