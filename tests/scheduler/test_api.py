"""The scheduling API against a real ``hallq serve``: staffing, roster runs, rebalancing."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.conftest import ROOT
from tests.server.conftest import HALL, SECRET, Server, Tokens, write_test_config

MONDAY = "2026-11-23"


def _manager(tokens: Tokens) -> str:
    return tokens.login("admin")


def test_staffing_returns_the_needs_of_the_day(server: Server, tokens: Tokens) -> None:
    admin = _manager(tokens)
    resp = server.get(f"{HALL}/staffing?date={MONDAY}", token=admin)
    assert resp.status == 200, resp.body
    assert resp.body["day"] == MONDAY
    assert "tax" in resp.body["categories"]
    assert len(resp.body["intervals"]) == len(resp.body["total_seated"])
    assert max(resp.body["total_seated"]) > 0
    # the pooled, simulated needs beside the per-category Erlang figures
    business = resp.body["pools"]["comp-business"]
    assert business["categories"] == ["business-setup", "business-change"]
    assert sum(resp.body["pooled_seated"]) < sum(resp.body["total_seated"])
    assert business["saved_clerk_hours"] > 0 and len(business["abandon"]) == len(resp.body["intervals"])
    bad = server.get(f"{HALL}/staffing?date=23/11/2026", token=admin)
    assert bad.status == 422 and "YYYY-MM-DD" in bad.error["message"]


def test_clerks_may_not_use_the_scheduling_api(server: Server, tokens: Tokens) -> None:
    clerk = tokens.login("c01")
    assert server.get(f"{HALL}/staffing?date={MONDAY}", token=clerk).status == 403
    assert server.post(f"{HALL}/roster", {"week": MONDAY}, token=clerk).status == 403
    assert server.get(f"{HALL}/rebalance", token=clerk).status == 403
    assert server.post(f"{HALL}/rebalance/apply", {"clerk": "c01", "to_window": 2}, token=clerk).status == 403
    assert server.get(f"{HALL}/staffing?date={MONDAY}").status == 401


def office_hours_server(
    server_factory: Any, directory: Path, redis: str | None = None, workers: int = 1
) -> tuple[Server, Tokens]:
    """The example hall with its real opening hours and demand (a roster needs a working day)."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    directory.mkdir()
    config = write_test_config(directory, hours=raw["hours"], demand=raw.get("demand"))
    srv: Server = server_factory(config=config, redis=redis, workers=workers)
    return srv, Tokens(Authority(load_config(config), SECRET.encode()), srv)


def test_a_roster_run_returns_its_summary_and_a_second_run_meanwhile_is_refused(
    server_factory: Any, tmp_path: Path
) -> None:
    server, tokens = office_hours_server(server_factory, tmp_path / "office")
    admin = _manager(tokens)
    none_yet = server.get(f"{HALL}/roster", token=admin)
    assert none_yet.status == 404 and "尚未排班" in none_yet.error["message"]
    tuesday = (date.fromisoformat(MONDAY) + timedelta(days=1)).isoformat()
    assert server.post(f"{HALL}/roster", {"week": tuesday}, token=admin).status == 422
    assert server.post(f"{HALL}/roster", {"week": MONDAY, "time_limit_seconds": 500}, token=admin).status == 422

    # two runs asked for at once (each solves for 3 s): one runs, the other is refused
    results: list[Any] = []

    # a cold roster first simulates each day's pooled staffing (seconds of CPU per distinct day)
    def run_roster() -> None:
        body = {"week": MONDAY, "time_limit_seconds": 3}
        results.append(server.post(f"{HALL}/roster", body, token=admin, timeout=180))

    runners = [threading.Thread(target=run_roster) for _ in range(2)]
    for t in runners:
        t.start()
    for t in runners:
        t.join()
    assert sorted(r.status for r in results) == [200, 409], [r.body for r in results]
    refused = next(r for r in results if r.status == 409)
    assert "正在排班" in refused.error["message"]
    run = next(r for r in results if r.status == 200)
    assert run.body["status"] in ("OPTIMAL", "FEASIBLE")
    assert run.body["bound"] <= run.body["objective"]
    assert run.body["shifts"] > 0 and len(run.body["grid"]) > 0
    assert any(row["days"] for row in run.body["grid"])
    kept = server.get(f"{HALL}/roster", token=admin)
    assert kept.status == 200 and kept.body == run.body
    # the roster is kept beside the journal: a restarted server still shows it
    server.stop()
    server.start()
    assert server.get(f"{HALL}/roster", token=tokens.login("admin")).body == run.body


def test_every_worker_on_redis_shows_the_same_roster_and_runs_one_at_a_time(
    server_factory: Any, tmp_path: Path, redis_url: str
) -> None:
    server, tokens = office_hours_server(server_factory, tmp_path / "office", redis=redis_url, workers=2)
    admin = _manager(tokens)
    results: list[Any] = []

    # a cold roster first simulates each day's pooled staffing (seconds of CPU per distinct day)
    def run_roster() -> None:  # each request on its own connection: the two land on either worker
        body = {"week": MONDAY, "time_limit_seconds": 3}
        results.append(server.post(f"{HALL}/roster", body, token=admin, timeout=180))

    runners = [threading.Thread(target=run_roster) for _ in range(3)]
    for t in runners:
        t.start()
    for t in runners:
        t.join()
    assert sorted(r.status for r in results) == [200, 409, 409], [r.body for r in results]
    run = next(r for r in results if r.status == 200)
    shown = [server.get(f"{HALL}/roster", token=admin) for _ in range(8)]
    assert all(r.status == 200 and r.body == run.body for r in shown)


def rebalancing_server(server_factory: Any, directory: Path) -> tuple[Server, Tokens]:
    """The test hall with no minimum stay, so clerks who just opened a window may be moved."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    directory.mkdir()
    config = write_test_config(directory, rebalance=raw["rebalance"] | {"min_stay_minutes": 0})
    srv: Server = server_factory(config=config)
    return srv, Tokens(Authority(load_config(config), SECRET.encode()), srv)


def make_tax_queue(server: Server, tokens: Tokens) -> None:
    """Tax windows 16–17 staffed, 18–19 closed; 高燕 (c18) and 郑凯 (c21), both tax-trained,
    sit at other windows; 40 citizens wait for tax."""
    for window, clerk in [(16, "c16"), (17, "c17"), (1, "c18"), (21, "c21"), (2, "c02"), (20, "c20")]:
        resp = server.post(f"{HALL}/windows/{window}/open", token=tokens.login(clerk))
        assert resp.status == 200, resp.body
    for _ in range(40):
        assert server.post(f"{HALL}/tickets", {"category": "tax"}, token=tokens.kiosk).status == 201


def apply_body(rec: dict[str, Any]) -> dict[str, Any]:
    """The body 「采纳」 posts for a recommendation: a move or a work profile."""
    move = rec["command"]
    if rec["kind"] == "move":
        return {"clerk": move["clerk"], "to_window": move["to_window"]}
    return {"window": move["window"], "categories": move["categories"]}


def test_a_tax_queue_brings_advice_that_applies_and_is_kept_with_its_prediction(
    server_factory: Any, tmp_path: Path
) -> None:
    server, tokens = rebalancing_server(server_factory, tmp_path / "rebalance")
    admin = _manager(tokens)
    make_tax_queue(server, tokens)
    resp = server.get(f"{HALL}/rebalance", token=admin)
    assert resp.status == 200, resp.body
    recs = resp.body["recommendations"]
    assert recs, resp.body
    rec = next(r for r in recs if r["ready"])
    assert rec["text"].startswith("建议") and "→" in rec["text"] and "95%区间" in rec["text"]
    assert rec["gain"]["after"] < rec["gain"]["before"] and "tax" in rec["gain"]["categories"]
    assert rec["gain"]["low"] <= rec["gain"]["after"] <= rec["gain"]["high"]
    applied = server.post(f"{HALL}/rebalance/apply", apply_body(rec), token=admin)
    assert applied.status == 200, applied.body
    events = server.get(f"{HALL}/events?after=0&limit=1000", token=admin).body["events"]
    kind = "clerk.moved" if rec["kind"] == "move" else "window.profile_set"
    changed = [e for e in events if e["type"] == kind]
    assert len(changed) == 1 and changed[0]["actor"] == "manager:admin"
    snap = server.get(f"{HALL}/snapshot").body
    window = next(w for w in snap["windows"] if w["number"] == rec["to_window"])
    assert window["status"] == "open"
    # the advice is kept with its prediction, to set beside what happens over its horizon
    later = server.get(f"{HALL}/rebalance", token=admin).body
    kept = later["adopted"][0]
    assert kept["text"] == rec["text"] and kept["gain"] == rec["gain"] and kept["by"] == "manager:admin"
    assert kept["done"] is False and kept["gain_realised"]["citizens"] >= 40


def test_applying_needs_a_move_or_a_profile(server_factory: Any, tmp_path: Path) -> None:
    server, tokens = rebalancing_server(server_factory, tmp_path / "rebalance")
    resp = server.post(f"{HALL}/rebalance/apply", {"window": 1}, token=_manager(tokens))
    assert resp.status == 422 and resp.error["field"] == "categories"
    assert "工作模式" in resp.error["message"]
