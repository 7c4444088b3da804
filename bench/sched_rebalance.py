"""Rebalancing decision time on the example hall (target ≤ 2 s p95 per decision) and its
determinism (the same decision on every run, however loaded the machine).

A Monday 10:00 snapshot: 20 windows open, a surge of 40 tax tickets in the last half
hour; the decision (forecast, CP-SAT candidate plans, the look-ahead scoring every
candidate on the live twin's futures, the recommendation text) is timed over repeated runs.

    PYTHONPATH=. python bench/sched_rebalance.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from queue_server.commands import IssueTicket, OpenWindow, decide
from queue_server.config import load_config
from queue_server.model import Event, HallState, apply_event
from scheduler.rebalance import recommend_moves

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    hall = load_config(ROOT / "config.yaml").halls[0]
    tz = ZoneInfo(hall.timezone)
    t9 = datetime(2026, 12, 7, 9, 0, tzinfo=tz).timestamp()
    state = HallState(hall.id)

    def run(cmd, at: float) -> None:  # type: ignore[no-untyped-def]
        d = decide(hall, state, cmd, at)
        apply_event(state, Event(state.seq + 1, hall.id, datetime.fromtimestamp(at, tz).isoformat(), "bench",
                                 d.type, d.data))  # fmt: skip

    # 21 windows staffed at their clerks' home windows; tax windows 18–19 closed, 高燕 (tax-trained)
    # helps at business window 3 instead of 李娜
    away = ("c03", "c18", "c19")
    seated = [(c.home_window, c.id) for c in hall.clerks if c.home_window is not None and c.id not in away]
    seated = [(w, c) for w, c in seated if w not in (8, 9, 12, 24, 27)] + [(3, "c18")]
    for window, clerk in seated:
        run(OpenWindow(window, clerk), t9)
    for i in range(40):
        run(IssueTicket("tax"), t9 + 1800 + i * 40)
    for i, cat in enumerate(c.id for c in hall.categories for _ in range(2)):
        run(IssueTicket(cat), t9 + 2400 + i * 30)
    now = t9 + 3600
    times: list[float] = []
    cpu_times: list[float] = []  # the process's own CPU: what the decision costs on a machine shared with others
    plan = None
    decisions = set()
    for _ in range(args.runs):
        start, cpu = time.perf_counter(), time.process_time()
        plan = recommend_moves(hall, state, now)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        decisions.add(tuple(r.text for r in plan.recommendations))
    assert plan is not None
    print(f"open windows {sum(1 for w in state.windows.values() if w.status == 'open')}, waiting "
          f"{len(state.waiting())}, runs {args.runs}")  # fmt: skip
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
    print(f"decision time: median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms   target p95 ≤ 2000 ms")  # fmt: skip
    cpu95 = statistics.quantiles(cpu_times, n=20)[-1] if len(cpu_times) > 1 else cpu_times[0]
    print(f"CPU time of the decision: median {statistics.median(cpu_times) * 1000:.0f} ms, p95 {cpu95 * 1000:.0f} ms"
          f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    print(f"distinct decisions over the runs: {len(decisions)}   target 1 (deterministic)")
    for rec in plan.recommendations:
        print(f"  {rec.text}")
    print(f"predicted mean wait over the hour: {plan.mean_wait_before:.1f} → {plan.mean_wait_after:.1f} min")


if __name__ == "__main__":
    main()
