"""Redis going away, WebSocket clients dropped mid-stream, a thousand boards at once, slow-loris."""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import time

from websockets.asyncio.client import connect

from tests.server.conftest import HALL


async def _next(ws, kind, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - loop.time())))
        if msg["type"] == kind:
            return msg


def test_redis_outage_answers_503_then_recovers_by_itself(server_factory, tokens_for, redis_url, redis_server):
    server = server_factory(redis=redis_url)
    tokens = tokens_for(server)
    manager = tokens.login("admin")
    before = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager).body

    async def scenario():
        async with connect(f"{server.ws}/ws/hall?hall=demo") as board:
            snap = await _next(board, "snapshot")
            loop = asyncio.get_running_loop()
            redis_server.stop()
            down = await loop.run_in_executor(
                None, lambda: server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager)
            )
            assert down.status == 503
            assert down.error["code"] == "store_unavailable" and "Redis" in down.error["message"]
            assert (await loop.run_in_executor(None, lambda: server.get("/readyz"))).status == 503
            redis_server.start()
            for _ in range(100):  # the server reconnects on its own
                if (await loop.run_in_executor(None, lambda: server.get("/readyz"))).status == 200:
                    break
                await asyncio.sleep(0.1)
            after = await loop.run_in_executor(
                None, lambda: server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager)
            )
            assert after.status == 201
            assert after.body["seq"] == snap["seq"] + 1  # the refused request stored nothing
            msg = await _next(board, "event", timeout=15)
            assert msg["seq"] == after.body["seq"]
            assert server.get(f"{HALL}/tickets/{before['ticket']}").status == 200

    asyncio.run(scenario())


def test_clients_dropped_mid_stream_reconnect_and_miss_nothing(server, tokens):
    manager = tokens.login("admin")

    def issue():
        return server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager).body

    async def scenario():
        loop = asyncio.get_running_loop()
        seen: list[int] = []
        last = 0
        for _round in range(5):
            ws = await connect(f"{server.ws}/ws/hall?hall=demo" + (f"&after={last}" if last else ""))
            for _ in range(4):
                await loop.run_in_executor(None, issue)
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] == "event":
                    seen.append(msg["seq"])
                    last = msg["seq"]
                if msg["type"] == "snapshot":
                    last = msg["seq"]
                if len(seen) and seen[-1] % 4 == 2:  # drop the connection in the middle of a burst
                    break
            ws.transport.abort()  # no close handshake: the network just went away
            await ws.wait_closed()
            await loop.run_in_executor(None, issue)  # made while nobody listened
        async with connect(f"{server.ws}/ws/hall?hall=demo&after={last}") as ws:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] == "event":
                    seen.append(msg["seq"])
                if msg["type"] == "sync":
                    break
        final = server.get(f"{HALL}/snapshot").body["seq"]
        assert seen == list(range(1, final + 1))

    asyncio.run(scenario())


def test_a_thousand_boards_connecting_at_once_do_not_starve_the_api(server, tokens):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
    manager = tokens.login("admin")

    async def scenario():
        loop = asyncio.get_running_loop()

        async def board():
            ws = await connect(f"{server.ws}/ws/hall?hall=demo", open_timeout=60)
            await _next(ws, "snapshot", timeout=60)
            return ws

        crowd = asyncio.gather(*(board() for _ in range(1000)))
        answers = []
        for _ in range(5):  # the API keeps answering while the boards pile in
            resp = await loop.run_in_executor(
                None, lambda: server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager)
            )
            answers.append(resp.status)
        boards = await crowd
        assert answers == [201] * 5
        t = await loop.run_in_executor(
            None, lambda: server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager)
        )

        async def until_seen(ws):
            while (await _next(ws, "event", 30))["seq"] != t.body["seq"]:
                pass
            return True

        try:
            assert all(await asyncio.gather(*(until_seen(ws) for ws in boards)))
        finally:
            await asyncio.gather(*(ws.close() for ws in boards))

    asyncio.run(scenario())


def test_slow_loris_connections_are_cut_off(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"POST /api/v1/halls/demo/tickets HTTP/1.1\r\nHost: x\r\n")
    start = time.monotonic()
    closed = False
    while time.monotonic() - start < 20:  # the test server allows 3 s for a request's headers
        try:
            sock.sendall(b"X-Drip: 1\r\n")  # one header line every second, never finishing
        except OSError:
            closed = True
            break
        sock.settimeout(1)
        try:
            if sock.recv(4096) == b"":
                closed = True
                break
        except TimeoutError:
            pass
        except OSError:
            closed = True
            break
    sock.close()
    assert closed, "the server kept a never-ending request open"
    assert server.get("/healthz").status == 200
