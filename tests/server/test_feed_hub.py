"""The feed hub's back-pressure rule, with a client whose socket is stuck."""

from __future__ import annotations

import asyncio
import json

from queue_server.commands import IssueTicket
from queue_server.feeds import QUEUE_SIZE, HallFeed, Hub
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore


def test_overflowing_client_gets_one_fresh_snapshot_and_the_others_get_everything(example_hall, clock):
    async def scenario():
        service = HallService(example_hall, MemoryStore(), clock)
        await service.start()
        hub = Hub(service)
        release = asyncio.Event()
        stuck_got: list[dict] = []
        fast_got: list[dict] = []

        async def stuck_send(payload: str) -> None:
            await release.wait()  # a board whose network hangs
            stuck_got.append(json.loads(payload))

        async def fast_send(payload: str) -> None:
            fast_got.append(json.loads(payload))

        stuck = asyncio.create_task(hub.serve(HallFeed(service), stuck_send, None))
        fast = asyncio.create_task(hub.serve(HallFeed(service), fast_send, None))
        await asyncio.sleep(0)
        total = QUEUE_SIZE * 3
        for _ in range(total):
            await service.execute(IssueTicket("tax", channel="counter"), "manager:admin")
            await asyncio.sleep(0.0005)  # requests arrive over time; the fast board keeps up
        await asyncio.sleep(0.05)
        events = [m for m in fast_got if m["type"] == "event"]
        assert [m["seq"] for m in events] == list(range(1, total + 1))
        release.set()
        await asyncio.sleep(0.05)
        assert stuck_got[-1]["type"] == "snapshot" and stuck_got[-1]["seq"] == total
        waiting = next(c for c in stuck_got[-1]["snapshot"]["categories"] if c["id"] == "tax")["waiting"]
        assert waiting == total
        assert len(stuck_got) < total  # the backlog was dropped, not sent late
        for task in (stuck, fast):  # both boards disconnect: the hub forgets them
            task.cancel()
        await asyncio.gather(stuck, fast, return_exceptions=True)
        assert hub.connections == set()

    asyncio.run(scenario())
