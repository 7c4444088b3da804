"""One hall day and one live forecast, timed.

- A 600-ticket day: the example hall (27 windows, 14 categories, journeys, no-shows,
  patience, lunch break) with its volume scaled to 600 citizens a day; the figure is
  the median wall time of one simulated day over ``--days`` days (target ≤ 10 ms), with
  the median CPU time of the process beside it (less disturbed by other work on a
  shared machine).
- A live forecast: the example hall at 10:40 on a Wednesday (its state rebuilt from a
  simulated morning's events), 200 replications over a 120-minute horizon (target ≤ 2 s).

    PYTHONPATH=. python bench/sim_day.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np

from queue_server.config import load_config
from queue_server.model import HallState, apply_event
from simulation.events import day_events
from simulation.model import HallDay, HallPlan
from simulation.replications import simulate_replication
from simulation.roster import default_shifts
from simulation.twin import forecast

ROOT = Path(__file__).resolve().parent.parent
WED = date(2026, 11, 25)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=200)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    hall = load_config(ROOT / "config.yaml").halls[0]
    per_day = sum(c.arrivals_per_day for c in hall.categories)
    assert hall.demand is not None
    scaled = hall.model_copy(
        update={"demand": hall.demand.model_copy(update={"weekday_factors": {"wed": 600 / per_day}})}
    )
    plan = HallPlan.of(scaled)
    shifts = default_shifts(scaled, WED)
    times, cpu, tickets = [], [], []
    for i in range(args.days):
        t0, c0 = time.perf_counter(), time.process_time()
        res = HallDay(plan, WED, np.random.default_rng(i), shifts, track=False).run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        tickets.append(len(res.citizens["citizen"]))
    med = statistics.median(times) * 1000
    print(
        f"hall day: {statistics.mean(tickets):.0f} tickets/day on average, median {med:.2f} ms per day "
        f"(mean {statistics.mean(times) * 1000:.2f} ms; median CPU {statistics.median(cpu) * 1000:.2f} ms) "
        f"over {args.days} days — target <= 10 ms: {'MET' if med <= 10 else 'NOT MET'}"
    )

    events = day_events(hall, simulate_replication(hall, [WED], 5, 0)[0], default_shifts(hall, WED))
    now = datetime(2026, 11, 25, 10, 40, tzinfo=hall.tz).timestamp()
    state = HallState(hall.id)
    for e in events:
        if e.at > now:
            break
        apply_event(state, e)
    forecast(hall, state, now, reps=5)  # warm-up (plan cache)
    t0, c0 = time.perf_counter(), time.process_time()
    result = forecast(hall, state, now, reps=args.reps, horizon_minutes=120)
    sec, csec = time.perf_counter() - t0, time.process_time() - c0
    busy = sum(1 for w in state.windows.values() if w.current)
    print(
        f"live forecast: {len(result)} waiting tickets, {busy} at windows, {args.reps} replications x 120 min "
        f"in {sec:.2f} s (CPU {csec:.2f} s) — target <= 2 s: {'MET' if sec <= 2 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
