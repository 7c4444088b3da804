"""The live twin behind the ticket tracker: a real server with ``simulation.live_twin``.

With the twin on, the issue answer, a waiting ticket's status and the board's queues soon
report the simulated mean wait with its 10th–90th percentile range in words
(``estimate_source: "twin"``); with it off (the default of the test hall) the core's queue
estimate with its range stays (``"queue"``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from queue_server.auth import Authority
from queue_server.config import load_config, parse_config
from queue_server.errors import ConfigError
from tests.server.conftest import HALL, SECRET, Tokens, write_test_config

FAST_TWIN = {"live_twin": {"enabled": True, "reps": 20, "horizon_minutes": 60, "refresh_seconds": 1}}


def _take_tickets(server: Any, tokens: Any, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        resp = server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk)
        assert resp.status == 201, resp.body
        ids.append(resp.body["ticket"])
    return ids


def _open_window(server: Any, tokens: Any) -> None:
    clerk = tokens.login("c16")
    assert server.post(f"{HALL}/windows/16/open", token=clerk).status == 200


def test_the_tracker_reports_the_twins_quantiles_when_enabled(server_factory, tmp_path):
    server = server_factory(config=write_test_config(tmp_path, simulation=FAST_TWIN))
    tokens = Tokens(Authority(load_config(server.config), SECRET.encode()), server)
    tickets = _take_tickets(server, tokens, 6)
    _open_window(server, tokens)
    deadline = time.monotonic() + 20
    statuses: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        statuses = [server.get(f"{HALL}/tickets/{t}").body for t in tickets]
        if all(s["estimate_source"] == "twin" for s in statuses):
            break
        time.sleep(0.2)
    assert [s["estimate_source"] for s in statuses] == ["twin"] * 6, statuses
    for s in statuses:
        assert s["state"] == "waiting"
        low, mid, high = s["estimated_wait_low_minutes"], s["estimated_wait_minutes"], s["estimated_wait_high_minutes"]
        assert 0 <= low <= mid <= high
        assert s["estimated_wait_text"]["zh"] in (f"预计等待约{mid}分钟（{low}–{high}分钟）", "即将叫号（1分钟内）")
    # one tax window for six citizens: the last waits longer than the first
    assert statuses[-1]["estimated_wait_minutes"] > statuses[0]["estimated_wait_minutes"]
    assert statuses[-1]["position"] == 6

    # a ticket taken now is answered from the twin at once (anchored on the last ticket it
    # forecast), and so is the board's row for the category
    resp = server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk)
    answer = resp.body["status"]
    assert answer["estimate_source"] == "twin", answer
    assert answer["estimated_wait_minutes"] >= statuses[-1]["estimated_wait_minutes"]
    assert answer["estimated_wait_text"]["zh"].startswith("预计等待约")
    snap = server.get(f"{HALL}/snapshot").body
    tax = next(c for c in snap["categories"] if c["id"] == "tax")
    assert tax["estimate_source"] == "twin" and tax["estimated_wait_text"]["zh"].startswith("预计")


def test_the_tracker_keeps_the_queue_estimate_when_the_twin_is_off(server, tokens):
    tickets = _take_tickets(server, tokens, 3)
    _open_window(server, tokens)
    for _ in range(10):
        for t in tickets:
            status = server.get(f"{HALL}/tickets/{t}").body
            assert status["estimate_source"] == "queue"
            assert isinstance(status["estimated_wait_minutes"], int)
            assert status["estimated_wait_low_minutes"] <= status["estimated_wait_minutes"]
            assert status["estimated_wait_minutes"] <= status["estimated_wait_high_minutes"]
        time.sleep(0.15)


@pytest.mark.parametrize(
    ("live_twin", "field"),
    [({"enabled": True, "reps": 0}, "reps"), ({"enabled": True, "refresh_seconds": -1}, "refresh_seconds"),
     ({"enabled": True, "every": 5}, "every")],
)  # fmt: skip
def test_a_bad_live_twin_setting_is_named(tmp_path, live_twin, field):
    raw = yaml.safe_load(write_test_config(tmp_path).read_text(encoding="utf-8"))
    raw["simulation"] = {"live_twin": live_twin}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "hall.yaml")
    assert f"simulation.live_twin.{field}" in str(info.value)
