"""Group commit: commands queued on a hall are decided in batches and stored with one compare-and-set.

Against a real ``redis-server``: two HallServices with their own Redis connections
stand for two workers (or two machines) on one hall. Whatever arrives at the same
time, on either of them, every command still makes exactly one event, numbers stay
gapless, a retried key answers its first result, and no ticket is called twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
import redis

from queue_server.clock import ManualClock
from queue_server.commands import (
    CallNext,
    CancelTicket,
    Command,
    FinishService,
    IssueTicket,
    OpenWindow,
    PauseWindow,
    StartService,
)
from queue_server.errors import CommandRejected
from queue_server.hall import HallService
from queue_server.model import Event
from queue_server.stores.base import IdempotencyRecord
from queue_server.stores.memory import MemoryStore
from queue_server.stores.redis import TURN_MS, RedisStore
from tests.conftest import MONDAY_9AM

from .conftest import make_tiny

HALL = make_tiny()


def _strip(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "replayed"}


async def _log(url: str) -> list[Event]:
    store = RedisStore(url)
    try:
        return await store.read(HALL.id, 0)
    finally:
        await store.close()


def _check_log(events: list[Event]) -> tuple[list[Event], Counter[str]]:
    """The log's invariants: gapless seq, gapless numbers per prefix, no ticket called twice."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    issued = [e for e in events if e.type == "ticket.issued"]
    assert len({e.data["ticket"] for e in issued}) == len(issued)
    for prefix in {e.data["prefix"] for e in issued}:
        numbers = sorted(e.data["sequence"] for e in issued if e.data["prefix"] == prefix)
        assert numbers == list(range(1, len(numbers) + 1)), f"numbers of {prefix} have a gap or a repeat"
    called = Counter(e.data["ticket"] for e in events if e.type == "ticket.called")
    assert not called or max(called.values()) == 1, "a ticket was called twice"
    return issued, called


def test_two_writers_under_load_issue_every_ticket_once_and_call_each_once(redis_url: str) -> None:
    clock = ManualClock(MONDAY_9AM)
    total = 240

    async def scenario() -> None:
        stores = [RedisStore(redis_url), RedisStore(redis_url)]
        one, two = HallService(HALL, stores[0], clock), HallService(HALL, stores[1], clock)
        assert one.batched and two.batched
        try:
            await one.start()
            await two.start()
            await asyncio.gather(
                one.execute(OpenWindow(1, "k1"), "clerk:k1"),
                two.execute(OpenWindow(2, "k2"), "clerk:k2"),
                one.execute(OpenWindow(3, "k3"), "clerk:k3"),
                two.execute(OpenWindow(4, "k4"), "clerk:k4"),
            )
            issuing = True

            async def issue(i: int) -> list[dict[str, Any]]:
                cmd = IssueTicket("A" if i % 3 else "C", "kiosk")
                if i % 4 == 0:  # a kiosk's retry lands on the other worker at the same moment
                    first, second = await asyncio.gather(
                        one.execute(cmd, "kiosk:k", f"key-{i}"), two.execute(cmd, "kiosk:k", f"key-{i}")
                    )
                    assert _strip(first) == _strip(second)
                    assert sorted([bool(first.get("replayed")), bool(second.get("replayed"))]) == [False, True]
                    return [first]
                return [await (one if i % 2 else two).execute(cmd, "kiosk:k")]

            async def clerk(svc: HallService, window: int) -> list[str]:
                called = []
                while True:
                    try:
                        answer = await svc.execute(CallNext(window), f"clerk:k{window}")
                    except CommandRejected as exc:
                        assert exc.code == "queue_empty"
                        if not issuing:
                            return called
                        await asyncio.sleep(0.002)
                        continue
                    called.append(answer["ticket"])
                    await svc.execute(StartService(window), f"clerk:k{window}")
                    await svc.execute(FinishService(window), f"clerk:k{window}")

            clerks = [asyncio.ensure_future(clerk(svc, w)) for svc, w in ((one, 1), (two, 2), (one, 3), (two, 4))]
            answers = [a for batch in await asyncio.gather(*(issue(i) for i in range(total))) for a in batch]
            issuing = False
            called_by = await asyncio.gather(*clerks)
        finally:
            for store in stores:
                await store.close()

        events = await _log(redis_url)
        issued, called = _check_log(events)
        # one event per command: every answer is an event of the log, and nothing else was issued
        assert len(issued) == len(answers) == total
        assert {a["ticket"] for a in answers} == {e.data["ticket"] for e in issued}
        by_seq = {e.seq: e for e in events}
        assert all(by_seq[a["seq"]].data["ticket"] == a["ticket"] for a in answers)
        # every ticket called exactly once, and what each clerk was told is what the log says
        assert set(called) == {e.data["ticket"] for e in issued}
        reported = [t for tickets in called_by for t in tickets]
        assert sorted(reported) == sorted(called)
        # and the commands really were batched: fewer batches than commands
        assert one.batched_commands > one.batches and two.batched_commands > two.batches

    asyncio.run(scenario())


def test_a_refusal_on_a_stale_view_is_decided_again(redis_url: str) -> None:
    """A worker that has not seen the other's ticket yet still calls it: the turn brings the missing events."""
    clock = ManualClock(MONDAY_9AM)

    async def scenario() -> None:
        stores = [RedisStore(redis_url), RedisStore(redis_url)]
        one, two = HallService(HALL, stores[0], clock), HallService(HALL, stores[1], clock)
        try:
            await one.start()
            await two.start()
            await one.execute(OpenWindow(1, "k1"), "clerk:k1")
            issued = await two.execute(IssueTicket("A"), "kiosk:k")
            assert one.state.seq == 1  # this worker has not seen the ticket (no follower here)
            called = await one.execute(CallNext(1), "clerk:k1")
            assert called["ticket"] == issued["ticket"]
            await one.execute(StartService(1), "clerk:k1")
            await one.execute(FinishService(1), "clerk:k1")
            with pytest.raises(CommandRejected) as refused:  # now the queue really is empty
                await one.execute(CallNext(1), "clerk:k1")
            assert refused.value.code == "queue_empty"
        finally:
            for store in stores:
                await store.close()
        _check_log(await _log(redis_url))

    asyncio.run(scenario())


def test_a_writer_that_died_holding_the_turn_holds_the_hall_up_only_for_the_lease(redis_url: str) -> None:
    clock = ManualClock(MONDAY_9AM)
    redis.Redis.from_url(redis_url).set(f"hallq:{{{HALL.id}}}:writer", "killed-worker", px=TURN_MS)

    async def scenario() -> float:
        store = RedisStore(redis_url)
        try:
            svc = HallService(HALL, store, clock)
            await svc.start()
            t0 = time.monotonic()
            assert (await svc.execute(IssueTicket("A"), "kiosk:k"))["number"] == "A001"
            return time.monotonic() - t0
        finally:
            await store.close()

    waited = asyncio.run(scenario())
    assert 0.3 < waited < TURN_MS / 1000 + 1.0
    _check_log(asyncio.run(_log(redis_url)))


def test_a_writer_that_does_not_take_turns_cannot_break_the_batches(redis_url: str) -> None:
    """One command at a time without the turn (an older worker) races two batching ones: the
    compare-and-set throws away every batch decided on a view it made stale."""
    clock = ManualClock(MONDAY_9AM)

    async def scenario() -> list[dict[str, Any]]:
        stores = [RedisStore(redis_url) for _ in range(3)]
        one, two = HallService(HALL, stores[0], clock), HallService(HALL, stores[1], clock)
        alone = HallService(HALL, stores[2], clock, batched=False)
        try:
            for svc in (one, two, alone):
                await svc.start()

            async def old_worker() -> list[dict[str, Any]]:
                return [await alone.execute(IssueTicket("C"), "kiosk:old") for _ in range(60)]

            batched = asyncio.gather(*(s.execute(IssueTicket("A"), "kiosk:new") for s in (one, two) * 90))
            old, new = await asyncio.gather(old_worker(), batched)
            return [*old, *new]
        finally:
            for store in stores:
                await store.close()

    answers = asyncio.run(scenario())
    issued, _ = _check_log(asyncio.run(_log(redis_url)))
    assert len(issued) == len(answers) == 240
    assert {a["ticket"] for a in answers} == {e.data["ticket"] for e in issued}


class RacedStore(RedisStore):
    """A real RedisStore whose first batch is overtaken: just before it commits, another writer that
    ignores the turn (``rival``, one command at a time) stores a ticket of its own."""

    rival: HallService | None = None

    async def commit(self, hall: str, writer: str, after: int, events: list[Event], keyed: list[Any], **kw: Any) -> Any:
        if self.rival is not None and len(events) > 1:
            rival, self.rival = self.rival, None
            await rival.execute(IssueTicket("A"), "kiosk:rival")
        return await super().commit(hall, writer, after, events, keyed, **kw)


def test_a_batch_overtaken_before_its_commit_is_thrown_away_and_decided_again(redis_url: str) -> None:
    clock = ManualClock(MONDAY_9AM)

    async def scenario() -> tuple[list[dict[str, Any]], HallService]:
        raced, other = RacedStore(redis_url), RedisStore(redis_url)
        svc = HallService(HALL, raced, clock)
        raced.rival = HallService(HALL, other, clock, batched=False)
        try:
            await svc.start()
            await raced.rival.start()
            answers = await asyncio.gather(*(svc.execute(IssueTicket("A"), "kiosk:k", f"k{i}") for i in range(5)))
            return list(answers), svc
        finally:
            await raced.close()
            await other.close()

    answers, svc = asyncio.run(scenario())
    issued, _ = _check_log(asyncio.run(_log(redis_url)))
    # the rival's ticket is A001; the batch, decided on the stale view as A001…A005, was decided again
    assert [e.actor for e in issued] == ["kiosk:rival"] + ["kiosk:k"] * 5
    assert [a["number"] for a in answers] == ["A002", "A003", "A004", "A005", "A006"]
    assert svc.state.seq == 6 and svc.state.counters == {"A": 6}
    assert svc.rollbacks == 1


def test_a_batch_decides_exactly_as_one_command_at_a_time() -> None:
    """The same commands, queued together on one batching service and run one by one on another,
    give the same answers, the same refusals and the same event log."""
    commands: list[tuple[Command, str | None]] = [
        (CallNext(1), None),  # refused: window closed
        (OpenWindow(1, "k1"), None),
        (CallNext(1), None),  # refused: nobody waiting
        (IssueTicket("A"), "kiosk-1"),
        (IssueTicket("A"), "kiosk-1"),  # a double tap: the first answer again
        (IssueTicket("C"), "kiosk-1"),  # the same key for another request: refused
        (IssueTicket("B", priority_group="elderly"), None),
        (IssueTicket("A"), None),
        (CallNext(1), "click-1"),  # the elderly citizen first (strict priority)
        (CallNext(1), "click-1"),  # a double click never skips a ticket
        (StartService(1), None),
        (FinishService(1), None),
        (CancelTicket("20261123-A002"), None),
        (CallNext(1), None),
        (PauseWindow(1, "lunch"), None),  # refused: a citizen is being called there
        (IssueTicket("B"), None),
        (IssueTicket("B"), None),
        (IssueTicket("B"), None),  # refused: B's daily cap of 3 is reached
    ]

    def outcome(answer: Any) -> Any:
        if isinstance(answer, CommandRejected):
            return ("refused", answer.code)
        return answer

    async def run(batched: bool) -> tuple[list[Any], list[Event], HallService]:
        store = MemoryStore()
        svc = HallService(HALL, store, ManualClock(MONDAY_9AM), batched=batched)
        await svc.start()
        if batched:
            answers = await asyncio.gather(
                *(svc.execute(cmd, "test", key) for cmd, key in commands), return_exceptions=True
            )
        else:
            answers = []
            for cmd, key in commands:
                try:
                    answers.append(await svc.execute(cmd, "test", key))
                except CommandRejected as exc:
                    answers.append(exc)
        return [outcome(a) for a in answers], await store.read(HALL.id, 0), svc

    together, log_together, svc = asyncio.run(run(batched=True))
    alone, log_alone, _ = asyncio.run(run(batched=False))
    assert svc.batches == 1 and svc.batched_commands == len(commands)  # really one batch
    assert together == alone
    assert log_together == log_alone
    assert [a[1] for a in together if isinstance(a, tuple)] == [
        "window_closed",
        "queue_empty",
        "idempotency_key_reused",
        "window_busy",
        "daily_cap_reached",
    ]


def test_commit_appends_a_run_all_or_nothing(redis_url: str, tmp_path: Any) -> None:
    """The store side of group commit, on both stores: a run lands whole or not at all."""

    def ev(seq: int, note: str = "") -> Event:
        return Event(seq, HALL.id, "2026-11-23T09:00:00.000+08:00", "kiosk:k", "ticket.issued", {"n": seq, "x": note})

    AT = ev(1).at  # the hall's clock, on which records are aged

    async def scenario(store: Any) -> None:
        try:
            turn = await store.begin(HALL.id, "w1", 0, ["k1"], AT)
            assert not turn.busy and turn.last_seq == 0 and turn.events == () and turn.records == {}
            rec = IdempotencyRecord("f", {"ticket": "t1"}, 2, AT)
            assert (await store.commit(HALL.id, "w1", 0, [ev(1), ev(2), ev(3)], [("k1", rec)])).status == "ok"
            stale = await store.commit(HALL.id, "w1", 2, [ev(3, "late")], [])
            assert (stale.status, stale.last_seq) == ("conflict", 3)
            dup = await store.commit(
                HALL.id, "w1", 3, [ev(4), ev(5)], [("k2", IdempotencyRecord("g", {}, 4, AT)), ("k1", rec)]
            )
            assert (dup.status, dup.record) == ("duplicate", rec)
            assert (await store.commit(HALL.id, "w1", 3, [], [])).status == "ok"  # only checks the seq
            assert [e.seq for e in await store.read(HALL.id, 0)] == [1, 2, 3]
            assert await store.idempotency(HALL.id, "k2", AT) is None  # nothing of the refused run stayed
            turn = await store.begin(HALL.id, "w1", 1, ["k1", "k2"], AT)
            assert turn.last_seq == 3 and [e.seq for e in turn.events] == [2, 3] and turn.records == {"k1": rec}
            await store.commit(HALL.id, "w1", 3, [], [])
            if store.shared:  # the turn: one writer at a time, handed to the one that waited
                assert not (await store.begin(HALL.id, "w1", 3, [], AT)).busy
                waiting = await store.begin(HALL.id, "w2", 3, [], AT)
                assert waiting.busy and 0 < waiting.wait <= TURN_MS / 1000
                t0 = time.monotonic()
                wake = asyncio.ensure_future(store.wait_turn(HALL.id, "w2", 5.0))
                await asyncio.sleep(0.05)
                assert (await store.commit(HALL.id, "w1", 3, [ev(4)], [])).status == "ok"
                await wake
                assert time.monotonic() - t0 < 1.0  # woken by the hand-over, not by the timeout
                assert (await store.begin(HALL.id, "w1", 4, [], AT)).busy  # w2 has it now
                # a lone command tried without the turn does not slip in while someone has it
                assert (await store.commit(HALL.id, "w1", 4, [ev(5)], [], unless_busy=True)).status == "busy"
                assert await store.last_seq(HALL.id) == 4
                assert not (await store.begin(HALL.id, "w2", 4, [], AT)).busy
                assert (await store.commit(HALL.id, "w2", 4, [], [])).status == "ok"  # w2 hands it back: free
                assert (await store.commit(HALL.id, "w1", 4, [ev(5)], [], unless_busy=True)).status == "ok"
        finally:
            await store.close()

    asyncio.run(scenario(MemoryStore(tmp_path / "data")))
    asyncio.run(scenario(RedisStore(redis_url)))
