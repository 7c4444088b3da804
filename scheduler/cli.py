"""``hallq staffing`` and ``hallq roster``: staffing needs and the weekly roster from the command line.

hallq staffing config.yaml --day 2026-12-07
hallq roster config.yaml --week 2026-12-07 --out roster/ --time-limit 60
"""

from __future__ import annotations

import argparse
import sys

from queue_server.cli import date_arg, hall_arg
from queue_server.errors import HallqError

from .export import write_roster
from .roster import RosterOptions, build_roster
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


def cmd_roster(args: argparse.Namespace) -> int:
    hall = hall_arg(args.config, args.hall)
    if args.time_limit <= 0:
        raise HallqError("--time-limit 必须大于 0 (must be positive)")
    opts = RosterOptions(time_limit=args.time_limit, workers=args.workers, seed=args.seed, log=args.log)
    roster = build_roster(hall, args.week, opts)
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
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("staffing", help="人员需求：每个时段每个类别需要的窗口人员 (staffing needs per interval)")
    p.add_argument("config", help="path to config.yaml")
    p.add_argument("--day", type=date_arg, required=True, help="date, e.g. 2026-12-07")
    p.add_argument("--hall", help="hall id (default: the first hall)")
    p.add_argument("--interval", type=int, choices=(15, 30), help="interval minutes (default: roster.interval_minutes)")
    p.add_argument("--model", choices=("auto", "erlang_c", "erlang_a"), default="auto")
    p.add_argument("--no-lag", action="store_true", help="no lag correction (stationary figures per interval)")
    p.set_defaults(handler=cmd_staffing)

    r = subparsers.add_parser("roster", help="周排班 (weekly roster with OR-Tools CP-SAT)")
    r.add_argument("config", help="path to config.yaml")
    r.add_argument("--week", type=date_arg, required=True, help="first day of the week, e.g. 2026-12-07")
    r.add_argument("--out", required=True, help="folder for roster.csv, intervals.csv, calendars/, roster.html")
    r.add_argument("--hall", help="hall id (default: the first hall)")
    r.add_argument("--time-limit", type=float, default=60.0, help="solver time limit in seconds (default 60)")
    r.add_argument("--workers", type=int, default=8, help="CP-SAT search workers (default 8, fine on 2 cores)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--log", action="store_true", help="print CP-SAT's search log")
    r.set_defaults(handler=cmd_roster)


if __name__ == "__main__":  # pragma: no cover
    from queue_server.cli import main

    sys.exit(main())
