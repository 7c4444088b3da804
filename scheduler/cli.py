"""``hallq staffing`` and ``hallq roster``: staffing needs and the weekly roster from the command line.

hallq staffing config.yaml --day 2026-12-07
hallq roster config.yaml --week 2026-12-07 --out roster/ --time-limit 60
hallq roster config.yaml --start 2026-12-07 --days 14 --out roster/
hallq roster check roster/roster.csv --config config.yaml
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

from queue_server.cli import date_arg, hall_arg
from queue_server.errors import HallqError

from . import nsp
from .export import write_roster
from .roster import RosterOptions, build_roster
from .roster_check import check_files, report
from .staffing import staffing_plan


def cmd_staffing(args: argparse.Namespace) -> int:
    hall = hall_arg(args.config, args.hall)
    plan = staffing_plan(hall, args.day, args.interval, model=args.model, lag=not args.no_lag)
    cats = [c for c in hall.categories if any(plan.needs[c.id].seated)]
    print(
        f"{hall.name} {args.day.isoformat()} 人员需求 staffing needs — 目标 target "
        f"{plan.target_level:.0%} 在 {plan.within_minutes:g} 分钟内叫号 (called within {plan.within_minutes:g} min), "
        f"缺勤折损 shrinkage {plan.shrinkage:.0%}"
    )
    if not any(plan.open):
        print("休息日，大厅不开放 (the hall is closed that day)")
        return 0
    print("时段 Interval  " + " ".join(f"{c.prefix:>3}" for c in cats) + "   在岗 seated  排班 rostered")
    for i, start in enumerate(plan.starts):
        if not plan.open[i]:
            continue
        cells = " ".join(f"{plan.needs[c.id].seated[i]:>3}" for c in cats)
        print(f"{start:%H:%M}         {cells}   {plan.total_seated()[i]:>10}  {plan.total_scheduled()[i]:>13}")
    legend = ", ".join(f"{c.prefix}={c.name}({plan.needs[c.id].model})" for c in cats)
    print(f"类别 Categories: {legend}")
    return 0


MAX_DAYS = 56  # eight weeks


def _horizon(args: argparse.Namespace) -> list[date]:
    """The days to roster: ``--start``/``--week`` and ``--end`` or ``--days`` (default 7)."""
    first = args.start or args.week
    if first is None:
        raise HallqError("请给出 --week 或 --start（排班的第一天）(give --week or --start: the first day)")
    if args.end is not None and args.days is not None:
        raise HallqError("--end 与 --days 只能给出一个 (give --end or --days, not both)")
    if args.end is not None:
        count = (args.end - first).days + 1
        if count < 1:
            raise HallqError(f"--end {args.end} 早于开始日期 {first} (--end is before the first day)")
    else:
        count = 7 if args.days is None else args.days
    if not 1 <= count <= MAX_DAYS:
        raise HallqError(f"排班天数须在 1 到 {MAX_DAYS} 之间，而不是 {count} (the horizon must be 1–{MAX_DAYS} days)")
    return [first + timedelta(days=i) for i in range(count)]


def cmd_roster(args: argparse.Namespace) -> int:
    if args.target and args.target[0] == "check":
        return cmd_roster_check(args)
    if args.nsp is not None:
        return cmd_roster_nsp(args)
    if len(args.target) > 1:
        raise HallqError(f"多余的参数 (unexpected arguments): {' '.join(args.target[1:])}")
    config = args.target[0] if args.target else args.config
    if config is None:
        raise HallqError("请给出配置文件 (give the configuration file: hallq roster config.yaml --week …)")
    if args.out is None:
        raise HallqError("请用 --out 给出输出目录 (give --out: the folder for roster.csv …)")
    hall = hall_arg(config, args.hall)
    if args.time_limit <= 0:
        raise HallqError("--time-limit 必须大于 0 (must be positive)")
    days = _horizon(args)
    lag = not args.no_lag and hall.roster.lag_correction
    workers = 8 if args.workers is None else args.workers
    opts = RosterOptions(time_limit=args.time_limit, workers=workers, seed=args.seed, lag=lag, log=args.log)
    roster = build_roster(hall, days[0], opts, days=days)
    paths = write_roster(hall, roster, args.out)
    print(
        f"排班完成 Roster solved: {roster.status}, 目标值 objective {roster.objective:.0f}, 下界 bound "
        f"{roster.bound:.0f}, 差距 gap {roster.gap:.2%}, 用时 {roster.wall_seconds:.1f} s "
        f"(首个可行解 first roster at {roster.first_solution_seconds or 0:.1f} s)"
    )
    print(f"班次 shifts: {len(roster.assignments)}, 缺员 under-cover: {roster.under_cover()} 人·时段 (clerk-intervals)")
    for p in paths:
        if p.parent.name != "calendars":
            print(f"  {p}")
    print(f"  {args.out.rstrip('/')}/calendars/*.ics ({len(hall.clerks)} 个日历 calendars)")
    result = check_files(hall, Path(args.out) / "roster.csv", days=roster.days, lag=lag)
    print("\n".join(report(result)))
    return 0 if not result.violations else 1


def cmd_roster_nsp(args: argparse.Namespace) -> int:
    if args.target:
        raise HallqError("--nsp 不需要配置文件 (--nsp takes no configuration file)")
    if args.time_limit <= 0:
        raise HallqError("--time-limit 必须大于 0 (must be positive)")
    inst = nsp.read_nsp(args.nsp)
    # one worker with the full linear relaxation proves the benchmark's instances fastest
    workers = 1 if args.workers is None else args.workers
    result = nsp.solve_nsp(inst, time_limit=args.time_limit, workers=workers, seed=args.seed)
    print("\n".join(nsp.report(inst, result, args.nsp)))
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "nsp-roster.csv").write_text(nsp.format_roster(inst, result.roster), encoding="utf-8")
        nsp.write_nsp(inst, out / "instance.txt")
        print(f"  {out / 'nsp-roster.csv'}\n  {out / 'instance.txt'}")
    return 0 if not result.violations else 1


def cmd_roster_check(args: argparse.Namespace) -> int:
    if len(args.target) != 2 or args.config is None:
        raise HallqError("用法 usage: hallq roster check roster.csv --config config.yaml")
    hall = hall_arg(args.config, args.hall)
    days = _horizon(args) if (args.start or args.week) else None
    result = check_files(hall, args.target[1], days=days, lag=not args.no_lag and hall.roster.lag_correction)
    print("\n".join(report(result)))
    return 0 if not result.violations else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("staffing", help="人员需求：每个时段每个类别需要的窗口人员 (staffing needs per interval)")
    p.add_argument("config", help="path to config.yaml")
    p.add_argument("--day", type=date_arg, required=True, help="date, e.g. 2026-12-07")
    p.add_argument("--hall", help="hall id (default: the first hall)")
    p.add_argument("--interval", type=int, choices=(15, 30), help="interval minutes (default: roster.interval_minutes)")
    p.add_argument("--model", choices=("auto", "erlang_c", "erlang_a"), default="auto")
    p.add_argument("--no-lag", action="store_true", help="no lag correction (stationary figures per interval)")
    p.set_defaults(handler=cmd_staffing)

    r = subparsers.add_parser(
        "roster",
        help="排班 (roster with OR-Tools CP-SAT); 'hallq roster check roster.csv --config …' checks a roster",
    )
    r.add_argument("target", nargs="*", metavar="config.yaml | check roster.csv",
                   help="the configuration, or 'check' and a roster.csv to check against --config")  # fmt: skip
    r.add_argument("--config", help="path to config.yaml (for 'check')")
    r.add_argument("--week", type=date_arg, help="first day of the week, e.g. 2026-12-07 (same as --start)")
    r.add_argument("--start", type=date_arg, help="first day of the horizon")
    r.add_argument("--end", type=date_arg, help="last day of the horizon (inclusive)")
    r.add_argument("--days", type=int, help=f"days in the horizon (default 7, at most {MAX_DAYS})")
    r.add_argument("--out", help="folder for roster.csv, intervals.csv, calendars/, roster.html")
    r.add_argument("--hall", help="hall id (default: the first hall)")
    r.add_argument("--time-limit", type=float, default=60.0, help="solver time limit in seconds (default 60)")
    r.add_argument("--workers", type=int, help="CP-SAT search workers (default 8, fine on 2 cores; --nsp: 1)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--no-lag", action="store_true", help="no lag correction of the staffing needs")
    r.add_argument("--log", action="store_true", help="print CP-SAT's search log")
    r.add_argument("--nsp", metavar="FILE", help="solve a Curtois & Qu benchmark instance (SECTION_HORIZON … format)")
    r.set_defaults(handler=cmd_roster)


if __name__ == "__main__":  # pragma: no cover
    from queue_server.cli import main

    sys.exit(main())
