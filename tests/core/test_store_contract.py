"""The store contract, run against both stores: MemoryStore (with its journal) and RedisStore.

RedisStore talks to a real ``redis-server`` started by the fixture on a free port
with AOF on; its durability test restarts that server. Whatever one store does,
the other must do too: append with compare-and-set on ``seq``, read after any
``seq``, idempotency records, one namespace per hall, nothing acknowledged lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queue_server.clock import ManualClock
from queue_server.commands import CallNext, IssueTicket, OpenWindow, StartService
from queue_server.errors import CommandRejected, StoreUnavailable
from queue_server.hall import HallService
from queue_server.model import Event
from queue_server.stores.base import IdempotencyRecord, Store
from queue_server.stores.memory import MemoryStore
from queue_server.stores.redis import RedisStore
from tests.conftest import MONDAY_9AM, RedisServer, free_port

from .conftest import make_tiny

HALL = make_tiny()
EAST = make_tiny(id="east", name="东区分中心")


class Backend:
    """Opens stores of one kind on the same data, and restarts what holds the data."""

    def __init__(self, kind: str, data_dir: Path, server: RedisServer | None) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.server = server

    def open(self) -> Store:
        if self.kind == "memory":
            return MemoryStore(self.data_dir, fsync="everysec")
        assert self.server is not None
        return RedisStore(self.server.url)

    def restart(self) -> None:
        """Memory: nothing to do (a new store replays the journal). Redis: restart redis-server (AOF)."""
        if self.server is not None:
            self.server.restart()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    server = None
    if request.param == "redis":
        request.getfixturevalue("redis_url")  # a clean database
        server = request.getfixturevalue("redis_server")
    yield Backend(request.param, tmp_path / "data", server)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())  # type: ignore[arg-type]


def event(seq: int, hall: str = "tiny", kind: str = "ticket.issued", **data: Any) -> Event:
    payload = {"ticket": f"20261123-A{seq:03d}", "number": f"A{seq:03d}", "note": "请到窗口办理"} | data
    return Event(seq, hall, f"2026-11-23T09:{seq % 60:02d}:00.000+08:00", "kiosk:k1", kind, payload)


# ------------------------------------------------------------------ append and read


def test_append_then_read_after_any_seq(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        try:
            assert await store.read("tiny", 0) == [] and await store.last_seq("tiny") == 0
            written = [event(i) for i in range(1, 8)]
            for e in written:
                outcome = await store.append(e, None, None)
                assert (outcome.status, outcome.last_seq) == ("ok", e.seq)
            assert await store.read("tiny", 0) == written
            for after in range(8):
                assert await store.read("tiny", after) == written[after:]
            assert await store.read("tiny", 2, limit=3) == written[2:5]
            assert await store.read("tiny", 6, limit=3) == written[6:]
            assert await store.last_seq("tiny") == 7
            assert await store.read("other", 0) == [] and await store.last_seq("other") == 0
            await store.ping()
        finally:
            await store.close()

    run(scenario)


def test_compare_and_set_on_seq(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        try:
            assert (await store.append(event(1), None, None)).status == "ok"
            again = await store.append(event(1, note="second writer"), None, None)
            assert (again.status, again.last_seq) == ("conflict", 1)
            ahead = await store.append(event(3), None, None)
            assert (ahead.status, ahead.last_seq) == ("conflict", 1)
            assert [e.data["note"] for e in await store.read("tiny", 0)] == ["请到窗口办理"]
            assert (await store.append(event(2), None, None)).status == "ok"
            assert await store.last_seq("tiny") == 2
        finally:
            await store.close()

    run(scenario)


def test_idempotency_records(backend: Backend) -> None:
    at = event(1).at  # records are aged on the hall's clock: this hall's 2026-11-23, whatever today is
    record = IdempotencyRecord("issue_ticket:[('category', 'A')]", {"number": "A001", "提示": ["请", 1]}, 1, at)

    async def scenario() -> None:
        store = backend.open()
        try:
            assert await store.idempotency("tiny", "kiosk-1", at) is None
            assert (await store.append(event(1), "kiosk-1", record)).status == "ok"
            assert await store.idempotency("tiny", "kiosk-1", at) == record
            # the same key again: the first record, nothing stored — whether the seq is current or stale
            for seq in (2, 1):
                dup = await store.append(event(seq, number="A999"), "kiosk-1", IdempotencyRecord("x", {}, seq, at))
                assert (dup.status, dup.record, dup.last_seq) == ("duplicate", record, 1)
            assert len(await store.read("tiny", 0)) == 1
            # a keyless append and another key still go through
            assert (await store.append(event(2), None, None)).status == "ok"
            assert (await store.append(event(3), "kiosk-2", IdempotencyRecord("y", {}, 3, at))).status == "ok"
            # keys belong to one hall
            assert await store.idempotency("east", "kiosk-1", at) is None
            assert (await store.append(event(1, hall="east"), "kiosk-1", record)).status == "ok"
        finally:
            await store.close()

    run(scenario)


def test_idempotency_records_expire_on_the_hall_clock(backend: Backend) -> None:
    """A record answers retries for 24 hours of the *hall's* time — the ``now`` its caller gives —
    not of the machine's: a hall on another date (a test clock, a replayed day) decides the same on
    both stores, before and after a restart."""
    day = 24 * 3600
    at = event(1).at
    first = IdempotencyRecord("issue_ticket:A", {"number": "A001"}, 1, at)

    async def scenario() -> None:
        store = backend.open()
        try:
            assert (await store.append(event(1), "kiosk-1", first)).status == "ok"
            assert await store.idempotency("tiny", "kiosk-1", at + day - 1) == first
            turn = await store.begin("tiny", "w1", 0, ["kiosk-1"], at + day - 1)
            assert turn.records == {"kiosk-1": first}
            await store.release("tiny", "w1")
            late = IdempotencyRecord("issue_ticket:A", {"number": "A002"}, 2, at + day - 1)
            assert (await store.append(event(2), "kiosk-1", late)).status == "duplicate"
        finally:
            await store.close()
        backend.restart()
        store = backend.open()
        try:  # a reopened journal (or a restarted Redis) still knows the record, and ages it the same way
            assert await store.idempotency("tiny", "kiosk-1", at + day - 1) == first
            assert await store.idempotency("tiny", "kiosk-1", at + day + 1) is None
            assert (await store.begin("tiny", "w1", 1, ["kiosk-1"], at + day + 1)).records == {}
            await store.release("tiny", "w1")
            # expired: the key is free again, and the new answer is the one given from now on
            second = IdempotencyRecord("issue_ticket:A", {"number": "A002"}, 2, at + day + 1)
            assert (await store.append(event(2), "kiosk-1", second)).status == "ok"
            assert await store.idempotency("tiny", "kiosk-1", at + day + 2) == second
            third = IdempotencyRecord("issue_ticket:A", {"number": "A003"}, 3, at + day + 2)
            dup = await store.commit("tiny", "w1", 2, [event(3)], [("kiosk-1", third)])
            assert (dup.status, dup.record) == ("duplicate", second)
        finally:
            await store.close()

    run(scenario)


def test_each_hall_has_its_own_log(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        try:
            for i in range(1, 4):
                assert (await store.append(event(i, hall="tiny"), None, None)).status == "ok"
            for i in range(1, 3):
                assert (await store.append(event(i, hall="east", note="东区"), None, None)).status == "ok"
            assert [e.seq for e in await store.read("tiny", 0)] == [1, 2, 3]
            assert [(e.seq, e.hall, e.data["note"]) for e in await store.read("east", 0)] == [
                (1, "east", "东区"),
                (2, "east", "东区"),
            ]
        finally:
            await store.close()

    run(scenario)


# ------------------------------------------------------------------ through HallService


def test_two_services_on_one_store_never_hand_out_the_same_ticket(backend: Backend) -> None:
    """Two processes' views of one hall: a stale one is told 'conflict', catches up and decides again."""
    clock = ManualClock(MONDAY_9AM)

    async def scenario() -> None:
        store_1 = backend.open()
        # two MemoryStores cannot share a journal (one process only), so the memory case shares the store
        store_2 = backend.open() if backend.kind == "redis" else store_1
        one, two = HallService(HALL, store_1, clock), HallService(HALL, store_2, clock)
        try:
            await one.start()
            await two.start()
            assert (await one.execute(IssueTicket("A"), "kiosk:1"))["number"] == "A001"
            assert (await two.execute(IssueTicket("A"), "kiosk:2"))["number"] == "A002"  # was stale at seq 0
            assert (await one.execute(IssueTicket("A"), "kiosk:1"))["number"] == "A003"
            await one.execute(OpenWindow(1, "k1"), "clerk:k1")
            await two.execute(OpenWindow(2, "k2"), "clerk:k2")
            assert (await one.execute(CallNext(1), "clerk:k1"))["number"] == "A001"
            assert (await two.execute(CallNext(2), "clerk:k2"))["number"] == "A002"  # not A001 again
            await one.catch_up()
            await two.catch_up()
            assert one.state.seq == two.state.seq == 7
            assert one.state.tickets == two.state.tickets
            assert one.state.windows == two.state.windows
            events = await store_1.read(HALL.id, 0)
            assert [e.seq for e in events] == list(range(1, 8))
        finally:
            await store_1.close()
            if store_2 is not store_1:
                await store_2.close()

    run(scenario)


def test_idempotency_across_two_services(backend: Backend) -> None:
    clock = ManualClock(time.time())

    async def scenario() -> None:
        store_1 = backend.open()
        store_2 = backend.open() if backend.kind == "redis" else store_1
        one, two = HallService(HALL, store_1, clock), HallService(HALL, store_2, clock)
        try:
            await one.start()
            await two.start()
            first = await one.execute(IssueTicket("B"), "kiosk:1", "req-1")
            # a retry lands on the other worker, whose view is stale: the first answer comes back
            again = await two.execute(IssueTicket("B"), "kiosk:1", "req-1")
            assert again == first | {"replayed": True}
            with pytest.raises(CommandRejected) as info:
                await two.execute(IssueTicket("C"), "kiosk:1", "req-1")
            assert info.value.code == "idempotency_key_reused"
            assert [e.type for e in await store_1.read(HALL.id, 0)] == ["ticket.issued"]
        finally:
            await store_1.close()
            if store_2 is not store_1:
                await store_2.close()

    run(scenario)


def test_nothing_acknowledged_is_lost_across_a_restart(backend: Backend) -> None:
    clock = ManualClock(time.time())

    async def first_life() -> tuple[list[dict[str, Any]], HallService]:
        store = backend.open()
        svc = HallService(HALL, store, clock)
        await svc.start()
        answers = [await svc.execute(IssueTicket("AC"[i % 2]), "kiosk:1", f"req-{i}") for i in range(30)]
        await svc.execute(OpenWindow(4, "k4"), "clerk:k4")
        answers.append(await svc.execute(CallNext(4), "clerk:k4"))
        answers.append(await svc.execute(StartService(4), "clerk:k4"))
        await store.close()
        return answers, svc

    answers, before = run(first_life)
    backend.restart()

    async def second_life() -> None:
        store = backend.open()
        svc = HallService(HALL, store, clock)
        try:
            await svc.start()
            assert svc.state.seq == 33
            assert svc.state.tickets == before.state.tickets
            assert svc.state.windows == before.state.windows
            assert svc.state.counters == {"A": 15, "C": 15}
            # the keys survived too: a kiosk retrying after the restart gets its first answer
            assert await svc.execute(IssueTicket("C"), "kiosk:1", "req-1") == answers[1] | {"replayed": True}
            assert (await svc.execute(IssueTicket("A"), "kiosk:1", "req-new"))["number"] == "A016"
            events = await store.read(HALL.id, 0)
            assert [e.seq for e in events] == list(range(1, 35))
            issued = [e.data["number"] for e in events if e.type == "ticket.issued"]
            assert len(issued) == len(set(issued)) == 31
        finally:
            await store.close()

    run(second_life)


def test_listeners_get_every_event_in_order(backend: Backend) -> None:
    clock = ManualClock(MONDAY_9AM)

    async def scenario() -> None:
        store = backend.open()
        writer, reader = HallService(HALL, store, clock), HallService(HALL, store, clock)
        seen: list[int] = []
        unsubscribe = reader.subscribe(lambda e: seen.append(e.seq))
        try:
            await writer.start()
            for _ in range(5):
                await writer.execute(IssueTicket("A"), "kiosk:1")
            caught = await reader.catch_up()
            assert [e.seq for e in caught] == seen == [1, 2, 3, 4, 5]
            await writer.execute(IssueTicket("A"), "kiosk:1")
            assert [e.seq for e in await reader.catch_up()] == [6]
            unsubscribe()
            await writer.execute(IssueTicket("A"), "kiosk:1")
            await reader.catch_up()
            assert seen == [1, 2, 3, 4, 5, 6]
        finally:
            await store.close()

    run(scenario)


def test_every_stored_key_is_namespaced_by_hall(backend: Backend) -> None:
    clock = ManualClock(MONDAY_9AM)

    async def scenario() -> None:
        store = backend.open()
        try:
            for hall in (HALL, EAST):
                svc = HallService(hall, store, clock)
                await svc.start()
                assert (await svc.execute(IssueTicket("A"), "kiosk:1", "same-key"))["number"] == "A001"
                await svc.execute(IssueTicket("A"), "kiosk:1")
            assert [e.hall for e in await store.read("tiny", 0)] == ["tiny", "tiny"]
            assert [e.hall for e in await store.read("east", 0)] == ["east", "east"]
        finally:
            await store.close()

    run(scenario)
    if backend.kind == "memory":
        assert sorted(p.name for p in backend.data_dir.iterdir()) == ["east.journal", "tiny.journal"]
    else:
        assert backend.server is not None
        client = redis.Redis.from_url(backend.server.url, decode_responses=True)
        keys = sorted(client.keys("*"))
        client.close()
        assert keys == [
            "hallq:{east}:events",
            "hallq:{east}:idem:same-key",
            "hallq:{east}:seq",
            "hallq:{tiny}:events",
            "hallq:{tiny}:idem:same-key",
            "hallq:{tiny}:seq",
        ]


# ------------------------------------------------------------------ when Redis is away


def test_an_unreachable_redis_is_a_clear_error_and_stores_nothing() -> None:
    async def scenario() -> None:
        store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
        svc = HallService(HALL, store, ManualClock(MONDAY_9AM))
        try:
            with pytest.raises(StoreUnavailable, match=r"^Redis 不可用，请稍后重试 \(Redis is unavailable"):
                await store.ping()
            with pytest.raises(StoreUnavailable):
                await svc.start()
            with pytest.raises(StoreUnavailable):
                await svc.execute(IssueTicket("A"), "kiosk:1")
            assert svc.state.seq == 0 and not svc.state.tickets
        finally:
            await store.close()

    run(scenario)


def test_keys_are_kept_by_the_wall_clock_whatever_the_halls_clock_says(backend: Backend) -> None:
    """A demo or a test may run the hall on its own clock (here two days behind); a retried request
    must still get its first answer, as it does in Redis where keys expire 24 h after they were stored."""
    clock = ManualClock(time.time() - 2 * 24 * 3600)

    async def scenario() -> None:
        store = backend.open()
        svc = HallService(HALL, store, clock)
        try:
            await svc.start()
            first = await svc.execute(IssueTicket("A"), "kiosk:1", "req-1")
            assert await svc.execute(IssueTicket("A"), "kiosk:1", "req-1") == first | {"replayed": True}
            assert len(await store.read(HALL.id, 0)) == 1
        finally:
            await store.close()

    run(scenario)


# ------------------------------------------------------------------ documents and leases


def test_documents_are_kept_per_hall_and_survive_a_restart(backend: Backend) -> None:
    roster = '{"week": "2026-11-23", "名单": ["张伟"]}'

    async def first() -> None:
        store = backend.open()
        try:
            assert await store.get_document("tiny", "roster") is None
            await store.put_document("tiny", "roster", '{"old": true}')
            await store.put_document("tiny", "roster", roster)  # the last one counts
            assert await store.get_document("tiny", "roster") == roster
            assert await store.get_document("east", "roster") is None
        finally:
            await store.close()

    run(first)
    backend.restart()

    async def second() -> None:
        store = backend.open()  # another process, or the same after a restart
        try:
            assert await store.get_document("tiny", "roster") == roster
        finally:
            await store.close()

    run(second)


def test_a_lease_has_one_holder_until_released_or_lapsed(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        try:
            assert await store.try_lease("tiny", "roster", 30)
            assert not await store.try_lease("tiny", "roster", 30)  # the second asker is refused
            assert await store.try_lease("east", "roster", 30)  # halls do not share leases
            await store.release_lease("tiny", "roster")
            assert await store.try_lease("tiny", "roster", 0.2)
            await asyncio.sleep(0.3)  # a holder that died without releasing: the lease lapses
            assert await store.try_lease("tiny", "roster", 30)
        finally:
            await store.close()

    run(scenario)
