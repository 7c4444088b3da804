"""Two workers on one Redis under concurrent load: group commit keeps every guarantee.

Thirty-two kiosks' worth of concurrent requests and three clerks calling at the same
time, spread by the kernel over both workers of ``hallq serve --workers 2``; some
tickets are retried with the same Idempotency-Key at the same moment (the retry may
land on the other worker). The event log must show every acknowledged ticket once,
gapless numbers, no ticket called twice, and every clerk told what the log says.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.server.conftest import HALL, SECRET, Tokens

TICKETS = 200


def test_two_workers_issue_every_ticket_once_and_call_each_once(server_factory, redis_url):
    server = server_factory(redis=redis_url, workers=2)
    tokens = Tokens(Authority(load_config(server.config), SECRET.encode()), server)
    manager = tokens.login("admin")
    clerks = {w: tokens.login(f"c{w}") for w in (16, 17, 18)}
    for w, token in clerks.items():
        assert server.post(f"{HALL}/windows/{w}/open", token=token).status == 200
    issuing = threading.Event()
    issuing.set()

    def issue(i: int) -> list[dict]:
        body = {"category": "tax", "channel": "counter"}
        if i % 5:
            resp = server.post(f"{HALL}/tickets", body, token=manager)
            assert resp.status == 201, resp.body
            return [resp.body]
        with ThreadPoolExecutor(2) as pair:  # the same key twice at the same moment
            both = list(
                pair.map(
                    lambda _: server.post(f"{HALL}/tickets", body, token=manager, headers={"Idempotency-Key": f"t{i}"}),
                    range(2),
                )
            )
        assert [r.status for r in both] == [201, 201], [r.body for r in both]
        assert both[0].body["ticket"] == both[1].body["ticket"] and both[0].body["seq"] == both[1].body["seq"]
        assert sorted(bool(r.body.get("replayed")) for r in both) == [False, True]
        return [both[0].body]

    def clerk(window: int) -> list[str]:
        token, called = clerks[window], []
        while True:
            resp = server.post(f"{HALL}/windows/{window}/call-next", token=token)
            if resp.status == 409 and resp.error["code"] == "queue_empty":
                if not issuing.is_set():
                    return called
                time.sleep(0.005)
                continue
            assert resp.status == 200, resp.body
            called.append(resp.body["ticket"])
            assert server.post(f"{HALL}/windows/{window}/start", token=token).status == 200
            assert server.post(f"{HALL}/windows/{window}/finish", token=token).status == 200

    with ThreadPoolExecutor(3) as desks, ThreadPoolExecutor(32) as kiosks:
        calling = [desks.submit(clerk, w) for w in clerks]
        acked = [t for answers in kiosks.map(issue, range(TICKETS)) for t in answers]
        issuing.clear()
        called_by = [f.result(timeout=120) for f in calling]

    events = server.get(f"{HALL}/events?after=0&limit=5000", token=manager).body["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    issued = [e for e in events if e["type"] == "ticket.issued"]
    assert len(issued) == len(acked) == TICKETS
    assert Counter(e["data"]["ticket"] for e in issued) == Counter(t["ticket"] for t in acked)
    assert sorted(e["data"]["sequence"] for e in issued) == list(range(1, TICKETS + 1))
    called = Counter(e["data"]["ticket"] for e in events if e["type"] == "ticket.called")
    assert set(called.values()) == {1} and set(called) == {t["ticket"] for t in acked}
    assert sorted(t for tickets in called_by for t in tickets) == sorted(called)
