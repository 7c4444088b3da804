"""`hallq demo` brings a running hall to life through the public API."""

from __future__ import annotations

from queue_server.auth import Authority
from queue_server.config import load_config
from queue_server.demo import run_demo
from tests.server.conftest import HALL, SECRET


def test_demo_issues_calls_and_serves_through_the_api(server, tokens):
    dep = load_config(server.config)
    stats = run_demo(dep.halls[0], server.base, Authority(dep, SECRET.encode()), speed=600, minutes=0.15,
                     password="hallq-demo", seed=3, quiet=True)
    assert stats.errors == 0, stats.last_error
    assert stats.issued >= 10 and stats.served >= 3
    events = server.get(f"{HALL}/events?after=0&limit=5000", token=tokens.login("admin")).body["events"]
    kinds = {e["type"] for e in events}
    assert {"ticket.issued", "window.opened", "ticket.called", "ticket.started", "ticket.finished"} <= kinds
    opened = [e for e in events if e["type"] == "window.opened"]
    assert all(e["actor"] == f"clerk:{e['data']['clerk']}" for e in opened)  # clerks log in themselves
