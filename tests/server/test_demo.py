"""`hallq demo` brings a running hall to life through the public API."""

from __future__ import annotations

import pytest
import yaml

from queue_server.auth import Authority
from queue_server.config import load_config
from queue_server.demo import run_demo
from queue_server.errors import HallqError
from tests.conftest import ROOT
from tests.server.conftest import HALL, SECRET, Tokens, write_test_config


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


def test_demo_refuses_a_hall_in_use_and_a_real_hall(server, tokens):
    dep = load_config(server.config)
    authority = Authority(dep, SECRET.encode())
    real = dep.halls[0].model_copy(update={"example": False})
    with pytest.raises(HallqError) as refused:
        run_demo(real, server.base, authority, speed=600, minutes=0.05, password="hallq-demo", quiet=True)
    assert "不是示例大厅" in str(refused.value)
    assert server.post(f"{HALL}/windows/5/open", token=tokens.login("c05")).status == 200
    with pytest.raises(HallqError) as refused:
        run_demo(dep.halls[0], server.base, authority, speed=600, minutes=0.05, password="hallq-demo", quiet=True)
    assert "5号" in str(refused.value) and "in use" in str(refused.value)
    events = server.get(f"{HALL}/events?after=0&limit=100", token=tokens.login("admin")).body["events"]
    assert [e["type"] for e in events] == ["window.opened"]  # nothing was done to the hall in use


def test_demo_follows_the_hall_rebalancing_itself(server_factory, tmp_path):
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    auto = raw["rebalance"] | {"mode": "auto", "min_stay_minutes": 0, "auto_every_seconds": 2}
    tmp_path.joinpath("auto").mkdir()
    srv = server_factory(config=write_test_config(tmp_path / "auto", rebalance=auto))
    dep = load_config(srv.config)
    tokens = Tokens(Authority(dep, SECRET.encode()), srv)
    for _ in range(60):  # a tax rush before the clerks sit down: the hall should rebalance towards tax
        assert srv.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).status == 201
    stats = run_demo(dep.halls[0], srv.base, Authority(dep, SECRET.encode()), speed=60, minutes=0.3,
                     password="hallq-demo", seed=3, quiet=True)  # fmt: skip
    assert stats.errors == 0, stats.last_error
    admin = tokens.login("admin")
    events = srv.get(f"{HALL}/events?after=0&limit=5000", token=admin).body["events"]
    auto_events = [e for e in events if e["actor"] == "system:rebalancer"]
    assert auto_events and {e["type"] for e in auto_events} <= {"clerk.moved", "window.profile_set"}
    kept = srv.get(f"{HALL}/rebalance", token=admin).body["adopted"]
    assert kept and all(a["by"] == "system:rebalancer" and "预计" in a["text"] for a in kept)
