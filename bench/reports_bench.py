"""How long the reports take over a month of the example hall's event log.

Drives the real command path (HallService, in-memory store, manual clock, seed 7)
through 22 working days of the example hall — about 11k tickets and 53k events:
issued, called, served and rated — then times each report the manager pages and ``hallq report``
compute from those events. Reference: the server's 15 s request timeout and a
manager's patience; the target is under 2 s for each report of a month.

    PYTHONPATH=$PWD python bench/reports_bench.py
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import date, datetime, timedelta

from queue_server import reports
from queue_server.clock import ManualClock
from queue_server.commands import CallNext, FinishService, IssueTicket, OpenWindow, RateService, StartService
from queue_server.config import load_config
from queue_server.errors import CommandRejected
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore

TARGET_SECONDS = 2.0


async def month(seed: int = 7) -> tuple[HallService, int]:
    hall = load_config("config.yaml").halls[0]
    rng = random.Random(seed)
    clock = ManualClock(0)
    service = HallService(hall, MemoryStore(None), clock)
    cats = [c.id for c in hall.categories]
    weights = [c.arrivals_per_day for c in hall.categories]
    day, days, issued = date(2026, 11, 2), 0, 0
    busy_until: dict[int, float] = {}
    while days < 22:
        if not hall.hours.is_working_day(day):
            day += timedelta(days=1)
            continue
        days += 1
        start = datetime.combine(day, hall.hours.open, hall.tz).timestamp()
        for minute in range(8 * 60):
            clock.set(start + minute * 60)
            if not hall.hours.is_open_at(datetime.fromtimestamp(clock.now(), hall.tz)):
                continue
            for _ in range(rng.choices((0, 1, 2, 3), (2, 4, 3, 1))[0]):
                await service.execute(IssueTicket(rng.choices(cats, weights)[0]), "kiosk:k1")
                issued += 1
            for clerk in hall.clerks[:27]:
                win = clerk.home_window
                if win is None:
                    continue
                live = service.state.windows.get(win)
                if live is None or live.status == "closed":
                    await service.execute(OpenWindow(win, clerk.id), f"clerk:{clerk.id}")
                    live = service.state.windows[win]
                if live.current is not None:
                    if clock.now() >= busy_until.get(win, 0):
                        outcome = rng.choices(("completed", "accepted", "supplement"), (6, 3, 1))[0]
                        done = await service.execute(FinishService(win, outcome, f"C{issued}-{win}"), "clerk")
                        if rng.random() < 0.7:
                            level = rng.choice((5, 5, 5, 4, 4, 3, 2, 1))
                            await service.execute(RateService(done["ticket"], level), "pad")
                    continue
                try:
                    called = await service.execute(CallNext(win), "clerk")
                except CommandRejected:
                    continue
                if called.get("ticket"):
                    await service.execute(StartService(win), "clerk")
                    mean = hall.category(called["category"]).service_time.mean
                    busy_until[win] = clock.now() + rng.expovariate(1 / mean) * 60
        day += timedelta(days=1)
    return service, issued


def main() -> None:
    t0 = time.perf_counter()
    service, issued = asyncio.run(month())
    events = asyncio.run(service.store.read(service.hall.id, 0))
    print(f"generated {len(events)} events ({issued} tickets, 22 working days) in {time.perf_counter() - t0:.1f} s")
    hall, start, end = service.hall, date(2026, 11, 1), date(2026, 12, 31)
    timings = []
    for by in reports.DIMENSIONS:
        t = time.perf_counter()
        rows = reports.summary(hall, events, start, end, "daily", by)
        timings.append((f"summary daily by {by} ({len(rows)} rows)", time.perf_counter() - t))
    for when in ("first, imports matplotlib", "again"):
        t = time.perf_counter()
        reports.plots(reports.summary(hall, events, start, end, "monthly", "category"))
        timings.append((f"summary monthly + SVG plots ({when})", time.perf_counter() - t))
    t = time.perf_counter()
    export = reports.rating_export(hall, events, start, end)
    timings.append((f"ratings export ({export['count']} ratings)", time.perf_counter() - t))
    t = time.perf_counter()
    reports.evaluation(hall, events, "2026Q4")
    timings.append(("quarterly evaluation", time.perf_counter() - t))
    print(f"{'report':<56} {'seconds':>8}  target ≤ {TARGET_SECONDS:g} s")
    for name, secs in timings:
        print(f"{name:<56} {secs:>8.3f}  {'ok' if secs <= TARGET_SECONDS else 'SLOW'}")


if __name__ == "__main__":
    main()
