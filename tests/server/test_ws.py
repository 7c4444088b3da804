"""WebSocket feeds of real server processes: live calls, replay by seq, slow clients, roles, Redis fan-out."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.server.conftest import HALL


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, predicate, timeout=10.0):
    """Messages until one satisfies ``predicate``; returns all of them."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await recv_json(ws, max(0.1, deadline - loop.time()))
        seen.append(msg)
        if predicate(msg):
            return seen


def is_event(kind, **data):
    def check(msg):
        return (
            msg.get("type") == "event"
            and msg["event"]["type"] == kind
            and all(msg["event"]["data"].get(k) == v for k, v in data.items())
        )

    return check


def open_window(server, tokens, window=16, clerk="c16"):
    token = tokens.login(clerk)
    assert server.post(f"{HALL}/windows/{window}/open", token=token).status == 200
    return token


def test_board_shows_the_call_with_its_announcement(server, tokens):
    async def scenario():
        async with connect(f"{server.ws}/ws/hall?hall=demo") as board:
            snap = await recv_json(board)
            assert snap["type"] == "snapshot" and snap["snapshot"]["hall"] == "demo"
            t = server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).body
            clerk = open_window(server, tokens)
            server.post(f"{HALL}/windows/16/call-next", token=clerk)
            msgs = await recv_until(board, is_event("ticket.called", number=t["number"]))
            call = msgs[-1]
            assert call["event"]["announcement"]["zh"] == "请L001号到16号窗口办理"
            assert any(q["category"] == "tax" and q["waiting"] == 0 for q in call["queues"])
            seqs = [m["seq"] for m in msgs]
            assert seqs == sorted(seqs)
            server.post(f"{HALL}/windows/16/recall", token=clerk)
            again = await recv_until(board, is_event("ticket.recalled", number="L001"))
            assert again[-1]["event"]["announcement"]["zh"] == "重呼：请L001号到16号窗口办理"

    asyncio.run(scenario())


def test_zone_filter_keeps_other_zones_off_the_board(server, tokens):
    async def scenario():
        async with connect(f"{server.ws}/ws/hall?hall=demo&zone=zone-c") as board:
            await recv_json(board)
            server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk)  # zone-b
            server.post(f"{HALL}/tickets", {"category": "housing-fund"}, token=tokens.kiosk)  # zone-c
            msg = await recv_json(board)
            assert msg["event"]["data"]["category"] == "housing-fund"
            assert {q["category"] for q in msg["queues"]} == {"real-estate", "social-insurance", "housing-fund"}

    asyncio.run(scenario())


def test_reconnect_with_after_replays_exactly_what_was_missed(server, tokens):
    async def scenario():
        async with connect(f"{server.ws}/ws/hall?hall=demo") as board:
            last = (await recv_json(board))["seq"]
        missed = [server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).body for _ in range(5)]
        async with connect(f"{server.ws}/ws/hall?hall=demo&after={last}") as board:
            msgs = await recv_until(board, lambda m: m["type"] == "sync")
        replayed = [m for m in msgs if m["type"] == "event"]
        assert [m["event"]["data"]["number"] for m in replayed] == [t["number"] for t in missed]
        assert [m["seq"] for m in replayed] == [t["seq"] for t in missed]
        assert all(m.get("replay") for m in replayed)

    asyncio.run(scenario())


def test_a_stuck_client_does_not_delay_a_fast_one(server, tokens):
    async def scenario():
        manager = tokens.login("admin")
        async with (
            connect(f"{server.ws}/ws/manager?token={manager}", max_queue=1) as stuck,
            connect(f"{server.ws}/ws/manager?token={manager}") as fast,
        ):
            await recv_json(fast)
            # the stuck client never reads while the hall produces far more than its buffers hold
            loop = asyncio.get_running_loop()
            last = None
            for _ in range(400):  # issued at the counter by the manager: kiosks are rate-limited
                last = await loop.run_in_executor(
                    None,
                    lambda: (
                        server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager).body
                    ),
                )
            msgs = await recv_until(fast, lambda m: m.get("seq") == last["seq"], timeout=20)
            events = [m for m in msgs if m["type"] == "event"]
            assert [m["seq"] for m in events] == list(range(1, last["seq"] + 1))
            # when the stuck client finally reads, it catches up to the present (events or a fresh snapshot)
            while True:
                msg = await recv_json(stuck, 10)
                if msg.get("seq") == last["seq"]:
                    break

    asyncio.run(scenario())


def test_tracker_follows_its_ticket_until_called(server, tokens):
    async def scenario():
        a = server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).body
        b = server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).body
        async with connect(f"{server.ws}/ws/ticket/{b['ticket']}?hall=demo") as tracker:
            first = await recv_json(tracker)
            assert first["status"]["position"] == 2
            clerk = open_window(server, tokens)
            server.post(f"{HALL}/windows/16/call-next", token=clerk)  # calls a
            moved = await recv_until(tracker, lambda m: m["type"] == "status" and m["status"].get("position") == 1)
            assert moved[-1]["status"]["ahead"] == 0
            server.post(f"{HALL}/windows/16/start", token=clerk)
            server.post(f"{HALL}/windows/16/finish", token=clerk)
            server.post(f"{HALL}/windows/16/call-next", token=clerk)  # calls b
            called = await recv_until(tracker, lambda m: m["type"] == "status" and m["status"]["state"] == "called")
            assert called[-1]["status"]["where"]["zh"] == "请到16号窗口"
        assert a["number"] == "L001"

    asyncio.run(scenario())


def test_feeds_refuse_the_wrong_role(server, tokens):
    async def closed_with(url):
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await recv_json(ws)
            return info.value.rcvd.code

    async def scenario():
        assert await closed_with(f"{server.ws}/ws/manager") == 4401
        assert await closed_with(f"{server.ws}/ws/manager?token={tokens.kiosk}") == 4403
        open_window(server, tokens, 16, "c16")
        other = tokens.login("c17")
        assert await closed_with(f"{server.ws}/ws/console/16?token={other}") == 4403
        assert await closed_with(f"{server.ws}/ws/hall?hall=nowhere") == 4404

    asyncio.run(scenario())


def test_two_servers_on_one_redis_deliver_every_call_in_order(server_factory, redis_url, redis_server):
    from queue_server.auth import Authority
    from queue_server.config import load_config
    from tests.server.conftest import SECRET, Tokens

    a = server_factory(redis=redis_url)
    b = server_factory(redis=redis_url, workers=2)
    tb = Tokens(Authority(load_config(b.config), SECRET.encode()), b)

    async def scenario():
        async with connect(f"{a.ws}/ws/hall?hall=demo") as board:
            await recv_json(board)
            loop = asyncio.get_running_loop()

            def work():
                clerk = tb.login("c16")
                assert b.post(f"{HALL}/windows/16/open", token=clerk).status == 200
                numbers = []
                for _ in range(20):
                    b.post(f"{HALL}/tickets", {"category": "tax"}, token=tb.kiosk)
                    called = b.post(f"{HALL}/windows/16/call-next", token=clerk).body
                    numbers.append(called["number"])
                    b.post(f"{HALL}/windows/16/start", token=clerk)
                    b.post(f"{HALL}/windows/16/finish", token=clerk)
                return numbers

            numbers = await loop.run_in_executor(None, work)
            msgs = await recv_until(board, is_event("ticket.called", number=numbers[-1]), timeout=20)
            calls = [m["event"]["data"]["number"] for m in msgs if m["event"]["type"] == "ticket.called"]
            assert calls == numbers
            seqs = [m["seq"] for m in msgs]
            assert seqs == list(range(seqs[0], seqs[-1] + 1))

            # Redis restarts (AOF on): the servers reconnect by themselves and the feed resumes without a gap
            redis_server.restart()
            deadline = time.monotonic() + 30
            while not (b.get("/readyz").status == 200 and a.get("/readyz").status == 200):
                assert time.monotonic() < deadline, "the servers did not reconnect to Redis"
                await asyncio.sleep(0.1)

            def kiosk_retries():  # as a kiosk does: the same Idempotency-Key until the hall answers
                headers = {"Idempotency-Key": "after-restart"}
                for _ in range(50):
                    r = b.post(f"{HALL}/tickets", {"category": "tax"}, token=tb.kiosk, headers=headers)
                    if r.status != 503:
                        return r
                    time.sleep(0.2)
                return r

            answer = await loop.run_in_executor(None, kiosk_retries)
            assert answer.status == 201, answer
            after = answer.body
            more = await recv_until(board, lambda m: m.get("seq") == after["seq"], timeout=20)
            assert [m["seq"] for m in more] == list(range(seqs[-1] + 1, after["seq"] + 1))

    asyncio.run(scenario())
