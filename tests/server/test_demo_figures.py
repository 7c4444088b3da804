"""Under ``hallq demo`` (60× real life) every figure follows the demo's clock: a ticket is
told a wait of the order it then waits (the live twin is calibrated on the day's services,
not on the configuration's minutes), and the dashboard's utilisation of clerks who are
serving is not 0 % (busy time over their time on duty, not over the hall's whole day)."""

from __future__ import annotations

import threading
import time
from typing import Any

from queue_server.auth import Authority
from queue_server.config import load_config
from queue_server.demo import DemoStats, run_demo
from tests.server.conftest import HALL, SECRET, Tokens, write_test_config

FAST_TWIN = {"live_twin": {"enabled": True, "reps": 20, "horizon_minutes": 60, "refresh_seconds": 1}}


def test_the_demos_estimates_and_utilisation_follow_its_clock(server_factory, tmp_path):
    server = server_factory(config=write_test_config(tmp_path, simulation=FAST_TWIN))
    dep = load_config(server.config)
    tokens = Tokens(Authority(dep, SECRET.encode()), server)
    manager = tokens.login("admin")
    stats = DemoStats()
    demo = threading.Thread(
        target=run_demo,
        args=(dep.halls[0], server.base, Authority(dep, SECRET.encode()), 60, 0.75, "hallq-demo", 5, stats, True),
    )
    demo.start()
    # wait until the demo's clerks have finished a few tax services: the day's
    # service times are known (a fixed sleep was too short on a loaded machine)
    tax_windows = {w.number for w in dep.halls[0].windows if "tax" in dep.halls[0].window_categories(w.number)}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and demo.is_alive():
        rows = server.get("/pages/manager?hall=demo", token=manager).body["utilisation"]["windows"]
        if sum(r["served"] for r in rows if r["number"] in tax_windows) >= 3:
            break
        time.sleep(0.5)
    time.sleep(3)  # and the twin's next forecast (refresh every second) has been made from them
    watched: dict[str, tuple[float, dict[str, Any]]] = {}
    for _ in range(4):
        resp = server.post(f"{HALL}/tickets", {"category": "tax"}, token=manager)
        assert resp.status == 201, resp.body
        watched[resp.body["ticket"]] = (time.monotonic(), resp.body["status"])
        time.sleep(1.5)
    called: dict[str, float] = {}
    while len(called) < len(watched) and demo.is_alive():
        for ticket, (taken, _) in watched.items():
            if ticket not in called and server.get(f"{HALL}/tickets/{ticket}").body["state"] != "waiting":
                called[ticket] = (time.monotonic() - taken) / 60
        time.sleep(0.3)
    summary = server.get("/pages/manager?hall=demo", token=manager).body
    demo.join()
    assert stats.errors == 0, stats.last_error
    assert called, "the demo's clerks called none of the watched tickets"
    for ticket, waited in called.items():
        told = watched[ticket][1]
        # told in real minutes, as the demo runs: within a couple of minutes of what happened
        assert abs(told["estimated_wait_minutes"] - waited) <= max(2.0, waited), (told, waited)
    serving = [c for c in summary["utilisation"]["clerks"] if c["busy_minutes"] > 0]
    assert len(serving) >= 5
    assert all(c["utilisation"] and c["utilisation"] > 0 for c in serving), serving  # not 0 % while serving
