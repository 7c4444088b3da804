"""MemoryStore keeps recent events in memory and reads older ones back from its journal."""

import asyncio

from queue_server.commands import IssueTicket
from queue_server.hall import HallService
from queue_server.stores import memory
from queue_server.stores.memory import MemoryStore


def test_old_events_are_read_back_from_the_journal(example_hall, clock, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "RECENT_EVENTS", 10)  # a small window, so most events live only on disk

    async def scenario():
        store = MemoryStore(tmp_path, fsync="never")
        svc = HallService(example_hall, store, clock)
        await svc.start()
        for _ in range(35):
            await svc.execute(IssueTicket("tax", channel="counter"), "manager:admin")
        assert len(store._log(example_hall.id).recent) == 10
        everything = await store.read(example_hall.id, 0)
        middle = await store.read(example_hall.id, 12, 5)
        tail = await store.read(example_hall.id, 30)
        await store.close()
        reopened = MemoryStore(tmp_path, fsync="never")
        again = await reopened.read(example_hall.id, 3, 4)
        await reopened.close()
        return everything, middle, tail, again

    everything, middle, tail, again = asyncio.run(scenario())
    assert [e.seq for e in everything] == list(range(1, 36))
    assert [e.data["number"] for e in everything][:3] == ["L001", "L002", "L003"]
    assert [e.seq for e in middle] == [13, 14, 15, 16, 17]
    assert [e.seq for e in tail] == [31, 32, 33, 34, 35]
    assert [e.data["number"] for e in again] == ["L004", "L005", "L006", "L007"]
