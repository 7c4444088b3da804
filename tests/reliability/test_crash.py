"""A hall cannot lose a citizen's place: kill -9 the server mid-load and restart it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter

import pytest
from websockets.asyncio.client import connect

from tests.server.conftest import HALL


def _load(server, token, stop: threading.Event, acked: list[dict], clerk: str | None):
    """Issue tickets (and call them at window 16) until the server dies; record every acknowledged answer."""
    n = 0
    while not stop.is_set() and n < 5000:
        n += 1
        try:
            resp = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=token,
                               headers={"Idempotency-Key": f"load-{n}"})
            if resp.status == 201:
                acked.append(resp.body)
            if clerk and n % 3 == 0:
                called = server.post(f"{HALL}/windows/16/call-next", token=clerk)
                if called.status == 200:
                    server.post(f"{HALL}/windows/16/start", token=clerk)
                    server.post(f"{HALL}/windows/16/finish", token=clerk)
        except OSError:
            return  # the server is gone


def _check_hall(server, manager, acked):
    events = server.get(f"{HALL}/events?after=0&limit=5000", token=manager).body["events"]
    issued = [e["data"] for e in events if e["type"] == "ticket.issued"]
    # every acknowledged ticket exists exactly once, no number repeats
    counts = Counter(d["ticket"] for d in issued)
    assert all(counts[t["ticket"]] == 1 for t in acked)
    assert len({d["number"] for d in issued}) == len(issued)
    for t in acked[-20:]:
        assert server.get(f"{HALL}/tickets/{t['ticket']}").status == 200
    # no ticket sits at two windows, no ticket called twice
    called = Counter(e["data"]["ticket"] for e in events if e["type"] == "ticket.called")
    assert all(n == 1 for n in called.values())
    snap = server.get(f"{HALL}/snapshot", token=manager).body
    current = [w["current"]["ticket"] for w in snap["windows"] if w["current"]]
    assert len(current) == len(set(current))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    return events


@pytest.mark.parametrize("store", ["embedded", "redis"])
def test_kill_9_mid_load_loses_no_acknowledged_ticket(store, server_factory, tokens_for, request):
    redis = request.getfixturevalue("redis_url") if store == "redis" else None
    server = server_factory(redis=redis)
    tokens = tokens_for(server)
    manager = tokens.login("admin")
    clerk = tokens.login("c16")
    assert server.post(f"{HALL}/windows/16/open", token=clerk).status == 200
    acked: list[dict] = []
    board_seen: list[int] = []

    async def board_until_crash():
        async with connect(f"{server.ws}/ws/hall?hall=demo") as ws:
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg["type"] == "event":
                        board_seen.append(msg["seq"])
            except Exception:  # the server is killed under it
                return

    board = threading.Thread(target=lambda: asyncio.run(board_until_crash()))
    board.start()
    stop = threading.Event()
    worker = threading.Thread(target=_load, args=(server, manager, stop, acked, clerk))
    worker.start()
    deadline = time.monotonic() + 10
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.stop(kill=True)  # kill -9, mid-stream
    stop.set()
    worker.join(30)
    board.join(30)
    assert len(acked) >= 100

    server.start()
    manager = tokens.login("admin")
    events = _check_hall(server, manager, acked)

    # the board resyncs: reconnecting with the last seq it saw replays the rest, with no gap
    last_seen = board_seen[-1] if board_seen else 0

    async def board_resync():
        async with connect(f"{server.ws}/ws/hall?hall=demo&after={last_seen}") as ws:
            got = []
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] == "sync":
                    return got
                if msg["type"] == "event":
                    got.append(msg["seq"])

    replayed = asyncio.run(board_resync())
    public = [e["seq"] for e in events if e["seq"] > last_seen and e["type"] != "ticket.rated"]
    assert replayed == public
    # and the hall goes on: the next ticket follows the last number
    nxt = server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager)
    assert nxt.status == 201
    last_number = max(int(e["data"]["number"][1:]) for e in events if e["type"] == "ticket.issued")
    assert nxt.body["number"] == f"L{last_number + 1:03d}"
