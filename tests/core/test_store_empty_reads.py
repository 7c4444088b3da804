"""Reading an empty range answers nothing on both stores (a board already up to date reconnects)."""

import asyncio

import pytest

from queue_server.commands import IssueTicket
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore
from queue_server.stores.redis import RedisStore


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_reading_nothing_returns_nothing(kind, example_hall, clock, tmp_path, request):
    async def scenario():
        store = MemoryStore(tmp_path) if kind == "memory" else RedisStore(request.getfixturevalue("redis_url"))
        svc = HallService(example_hall, store, clock)
        await svc.start()
        await svc.execute(IssueTicket("tax"), "kiosk:k1")
        out = (
            await store.read(example_hall.id, 1, 0),
            await store.read(example_hall.id, 1),
            await store.read(example_hall.id, 5),
        )
        await store.close()
        return out

    assert asyncio.run(scenario()) == ([], [], [])
