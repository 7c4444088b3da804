"""Sixteen clerks in four processes race for the next citizen on one RedisStore.

Each process runs four clerks (each with its own HallService view of the hall)
at windows whose categories overlap (the all-matters windows 10 and 11 share
every comprehensive category), calling, starting and finishing as fast as they
can, while two kiosks in the test process keep issuing tickets. Afterwards the
event log must show every ticket issued once, with a unique number, and called
exactly once, by a window that may serve it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from typing import Any

from queue_server.commands import IssueTicket, serving_categories
from queue_server.config import Hall
from queue_server.hall import HallService
from queue_server.model import HallState, WindowState, apply_event
from queue_server.stores.redis import RedisStore

from .conftest import ROOT

TICKETS = 300
CATEGORIES = [
    "business-setup",
    "business-change",
    "investment",
    "construction",
    "social-affairs",
    "licences",
    "transport",
    "delivery",
    "tax",
]
# four processes x four clerks, at their home windows
WINDOWS = [[1, 2, 10, 16], [3, 4, 11, 17], [5, 6, 8, 18], [7, 9, 12, 19]]

WORKER = r"""
import asyncio, json, sys, time
from queue_server.commands import CallNext, FinishService, OpenWindow, StartService
from queue_server.config import load_config
from queue_server.errors import CommandRejected
from queue_server.hall import HallService
from queue_server.stores.redis import RedisStore

async def clerk(hall, store, window, total, deadline):
    who = f"c{window:02d}"
    svc = HallService(hall, store)
    await svc.start()
    await svc.execute(OpenWindow(window, who), f"clerk:{who}")
    called = []
    while time.monotonic() < deadline:
        try:
            r = await svc.execute(CallNext(window), f"clerk:{who}")
        except CommandRejected as exc:
            if exc.code != "queue_empty":
                raise
            await svc.catch_up()
            if len(svc.state.tickets) == total and not svc.state.waiting():
                return who, called
            await asyncio.sleep(0.002)
            continue
        called.append(r["ticket"])
        await svc.execute(StartService(window), f"clerk:{who}")
        await svc.execute(FinishService(window), f"clerk:{who}")
    raise SystemExit(f"{who}: gave up waiting")

async def main(url, total, windows):
    hall = load_config("config.yaml").halls[0]
    store = RedisStore(url)
    deadline = time.monotonic() + 60
    try:
        tasks = [clerk(hall, store, w, total, deadline) for w in windows]
        print("READY", flush=True)
        for who, called in await asyncio.gather(*tasks):
            print("CALLED", who, json.dumps(called), flush=True)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), [int(w) for w in sys.argv[3].split(",")]))
"""


async def race(hall: Hall, url: str) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, url, str(TICKETS), ",".join(map(str, ws)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
        )
        for ws in WINDOWS
    ]
    try:
        for p in procs:  # every clerk is logged in before the first citizen arrives
            assert p.stdout is not None
            line = await asyncio.wait_for(p.stdout.readline(), 60)
            assert line == b"READY\n", (line, await p.stderr.read() if p.stderr else b"")

        store = RedisStore(url)
        kiosks = [HallService(hall, store), HallService(hall, store)]

        async def kiosk(n: int, svc: HallService) -> list[dict[str, Any]]:
            await svc.start()
            answers = []
            for i in range(n, TICKETS, 2):
                answers.append(await svc.execute(IssueTicket(CATEGORIES[i % len(CATEGORIES)]), f"kiosk:{n}", f"r{i}"))
                if i % 20 == 0:
                    await asyncio.sleep(0)
            return answers

        try:
            per_kiosk = await asyncio.gather(*(kiosk(n, s) for n, s in enumerate(kiosks)))
            issued = [a for answers in per_kiosk for a in answers]
        finally:
            await store.close()

        called: dict[str, list[str]] = {}
        for p in procs:
            out, err = await asyncio.wait_for(p.communicate(), 90)
            assert p.returncode == 0, err.decode()
            for report in out.decode().splitlines():
                _, who, tickets = report.split(" ", 2)
                called[who] = json.loads(tickets)
        return called, issued
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()


def test_sixteen_clerks_four_processes_every_ticket_called_once(example_hall: Hall, redis_url: str) -> None:
    called_by, issued = asyncio.run(race(example_hall, redis_url))

    async def read_log() -> list[Any]:
        store = RedisStore(redis_url)
        try:
            return await store.read(example_hall.id, 0)
        finally:
            await store.close()

    events = asyncio.run(read_log())
    assert [e.seq for e in events] == list(range(1, len(events) + 1))

    # every ticket issued once, with a unique number
    issued_events = [e for e in events if e.type == "ticket.issued"]
    assert len(issued_events) == len(issued) == TICKETS
    assert len({e.data["ticket"] for e in issued_events}) == TICKETS
    assert len({e.data["number"] for e in issued_events}) == TICKETS
    assert {a["ticket"] for a in issued} == {e.data["ticket"] for e in issued_events}

    # the clerks called while the kiosks were still issuing
    first_call = next(e.seq for e in events if e.type == "ticket.called")
    assert first_call < issued_events[-1].seq

    # every ticket called exactly once, and the clerks' own reports agree with the log
    calls = Counter(e.data["ticket"] for e in events if e.type == "ticket.called")
    assert set(calls) == {e.data["ticket"] for e in issued_events}
    assert set(calls.values()) == {1}
    reported = [t for tickets in called_by.values() for t in tickets]
    assert len(called_by) == 16 and sorted(reported) == sorted(calls)

    # and by a window that may serve it, with a clerk skilled for it
    state = HallState(example_hall.id)
    for e in events:
        if e.type == "ticket.called":
            win = state.windows[e.data["window"]]
            allowed = serving_categories(example_hall, WindowState(win.number, win.categories, "open", win.clerk))
            assert state.tickets[e.data["ticket"]].category in allowed
        apply_event(state, e)
    assert all(t.state == "finished" for t in state.tickets.values())
    # the shared windows really were shared: the all-matters windows called several categories
    shared = {state.tickets[t].category for w in ("c10", "c11") for t in called_by[w]}
    assert len(shared) >= 2, shared
