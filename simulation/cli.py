"""``hallq simulate``, ``hallq compare`` and ``hallq calibrate``.

hallq simulate config.yaml --days 5 --reps 30 --out report/
hallq compare a.yaml b.yaml --days 5 --reps 30
hallq calibrate events.jsonl --config config.yaml --out calibrated.yaml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from typing import Any

from queue_server.cli import date_arg, hall_arg

from .kpis import LABELS


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"须为正整数 (expected a positive whole number, got {text!r})")
    return value


def _bar(total: int, desc: str, quiet: bool) -> tuple[AbstractContextManager[Any], Callable[[int], None]]:
    if quiet:
        return nullcontext(), lambda n: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="rep", file=sys.stderr)
    return bar, bar.update


def _study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=_positive, default=5, help="working days per replication (default 5)")
    p.add_argument("--reps", type=_positive, default=30, help="replications (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=date_arg, default=date(2026, 11, 23), help="first day (YYYY-MM-DD)")
    p.add_argument("--workers", type=_positive, help="local processes (default: all cores)")
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (runs the sweep there)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_simulate(args: argparse.Namespace) -> int:
    from .replications import run_study
    from .report import write_report
    from .roster import read_roster_csv

    hall = hall_arg(args.config, args.hall)
    roster = read_roster_csv(args.roster, hall) if args.roster else None
    bar, tick = _bar(args.reps, "仿真 simulating", args.quiet)
    with bar:
        study = run_study(
            hall,
            days=args.days,
            reps=args.reps,
            seed=args.seed,
            start=args.start,
            roster=roster,
            workers=args.workers,
            scheduler=args.scheduler,
            keep_records=True,
            progress=tick,
        )
    page = write_report(hall, study, args.out, args.reps, args.seed)
    f = study.summary.figures
    from .report import fmt_estimate

    for key in ("wait_mean", "wait_p90", "service_level", "abandonment", "one_visit"):
        zh, en = LABELS[key]
        print(f"{zh} {en}: {fmt_estimate(f['overall.' + key], key)}")
    print(f"报告已写入 report written: {page}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare
    from .report import fmt_estimate

    a, b = hall_arg(args.a, args.hall), hall_arg(args.b, args.hall)
    if a.category_ids() != b.category_ids():
        print("注意：两个配置的事项类别不同，只比较共有的指标 (note: the categories differ)", file=sys.stderr)
    bar, tick = _bar(2 * args.reps, "仿真 simulating", args.quiet)
    with bar:
        result = compare(
            a,
            b,
            days=args.days,
            reps=args.reps,
            seed=args.seed,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=tick,
        )
    print(f"A = {args.a}   B = {args.b}   ({args.reps} 次重复 replications × {args.days} 天 days; 95% CI)")
    head = f"{'指标 figure':34} {'A':>24} {'B':>24} {'B−A':>26}"
    print(head)
    print("-" * len(head))
    for k, ea, eb, d in result.rows():
        if not args.all and not (k.startswith("overall.") or k.endswith((".wait_mean", ".abandonment"))):
            continue
        if k.startswith(("window.", "clerk.")) and not args.all:
            continue
        mark = " *" if d.n > 1 and (d.low > 0 or d.high < 0) else ""
        print(f"{k:34} {fmt_estimate(ea, k):>24} {fmt_estimate(eb, k):>24} {fmt_estimate(d, k):>26}{mark}")
    print("* 差异显著 (the interval of the difference excludes 0)")
    if args.out:
        import json
        from pathlib import Path

        Path(args.out).write_text(json.dumps(result.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"已写入 written: {args.out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibrate import calibrate_file

    report = calibrate_file(args.events, args.config, args.out, hall_id=args.hall)
    for line in report:
        print(line)
    print(f"已写入校准后的配置 calibrated configuration written: {args.out}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("simulate", help="仿真大厅 simulate the hall, write an HTML/CSV/JSON report")
    p.add_argument("config")
    p.add_argument("--hall", help="hall id (default: the first hall)")
    p.add_argument("--roster", help="roster CSV: clerk,date,start,end,break_start,break_end,window")
    p.add_argument("--out", default="report", help="output directory (default report/)")
    _study_args(p)
    p.set_defaults(handler=cmd_simulate)

    c = subparsers.add_parser("compare", help="比较两种布局 compare two hall layouts side by side")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--hall", help="hall id in both files (default: the first hall)")
    c.add_argument("--all", action="store_true", help="every figure, not just the main ones")
    c.add_argument("--out", help="also write the comparison as JSON to this file")
    _study_args(c)
    c.set_defaults(handler=cmd_compare)

    k = subparsers.add_parser("calibrate", help="由事件日志校准 fit arrivals, service times, patience from events")
    k.add_argument("events", help="events.jsonl from `hallq events export`")
    k.add_argument("--config", default="config.yaml", help="the configuration to update (default config.yaml)")
    k.add_argument("--hall", help="hall id (default: the hall of the events)")
    k.add_argument("--out", default="calibrated.yaml", help="where to write the calibrated configuration")
    k.set_defaults(handler=cmd_calibrate)
