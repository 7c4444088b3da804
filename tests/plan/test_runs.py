"""The run queue: a full queue, cancelling (the worker process ends), the live feed, roles, restarts."""

from __future__ import annotations

import asyncio
import json
import time

import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.plan.conftest import ENDED, PLAN, simulate, template
from tests.server.conftest import HALL, SECRET, Tokens

LONG = {"days": 20, "reps": 200}  # the test hall (open around the clock): minutes of work


def workers(server) -> list[psutil.Process]:
    """The server's plan worker processes: spawned children of the process(es) serving requests
    (with several server workers, Sanic's own workers are spawned children of the main process)."""
    main = psutil.Process(server.proc.pid)
    spawned = [p for p in main.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
    return [p for p in spawned if (p.ppid() == main.pid) == (server.workers == 1)]


def test_a_full_queue_refuses_and_cancel_stops_the_worker(plan_server, planner):
    config = template(plan_server, planner, "hall:demo")
    ids = []
    for position in range(4):
        resp = plan_server.post(f"{PLAN}/runs", {"kind": "simulate", "config": config, **LONG}, token=planner)
        assert resp.status == 202, resp.body
        assert resp.body["position"] == position
        assert resp.body["state"] == ("running" if position == 0 else "queued")
        ids.append(resp.body["run"])
    full = plan_server.post(f"{PLAN}/runs", {"kind": "simulate", "config": config}, token=planner)
    assert full.status == 429 and full.error["code"] == "runs_busy"
    assert "3 个仿真在排队" in full.error["message"] and "3 runs are already waiting" in full.error["message"]

    busy = plan_server.request("DELETE", f"{PLAN}/runs/{ids[1]}", token=planner)
    assert busy.status == 409 and busy.error["code"] == "run_active"
    queued = plan_server.post(f"{PLAN}/runs/{ids[2]}/cancel", token=planner).body
    assert queued["state"] == "cancelled" and queued["position"] is None
    assert plan_server.get(f"{PLAN}/runs/{ids[3]}", token=planner).body["position"] == 2

    [worker] = workers(plan_server)
    assert plan_server.get(f"{PLAN}/runs/{ids[0]}", token=planner).body["state"] == "running"
    running = plan_server.post(f"{PLAN}/runs/{ids[0]}/cancel", token=planner).body
    assert running["state"] == "cancelled" and running["progress"]["done"] < running["progress"]["total"]
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert worker.pid not in [p.pid for p in workers(plan_server)]
    again = plan_server.post(f"{PLAN}/runs/{ids[0]}/cancel", token=planner)
    assert again.status == 409 and again.error["code"] == "run_finished"
    # the next one starts in a new worker
    assert wait_state(plan_server, planner, ids[1], "running")["position"] == 0
    for rid in (ids[1], ids[3]):
        assert plan_server.post(f"{PLAN}/runs/{rid}/cancel", token=planner).body["state"] == "cancelled"
    assert plan_server.get(f"{PLAN}/runs/{ids[0]}", token=planner).body["result"] is None
    assert plan_server.request("DELETE", f"{PLAN}/runs/{ids[0]}", token=planner).body == {"deleted": ids[0]}
    assert plan_server.get(f"{PLAN}/runs/{ids[0]}", token=planner).status == 404


def wait_state(server, token, run, state, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        body = server.get(f"{PLAN}/runs/{run}", token=token).body
        if body["state"] == state:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_the_plan_feed_pushes_progress(plan_server, planner):
    config = template(plan_server, planner)
    body, key = {"kind": "simulate", "config": config, "reps": 8}, "feed-test-1"

    async def scenario():
        async with connect(f"{plan_server.ws}/ws/plan?token={planner}") as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert first["type"] == "runs" and isinstance(first["runs"], list)
            resp = plan_server.post(f"{PLAN}/runs", body, token=planner, headers={"Idempotency-Key": key})
            rid = resp.body["run"]
            seen = []
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if msg["type"] == "run" and msg["run"]["run"] == rid:
                    seen.append(msg["run"])
                    if msg["run"]["state"] in ENDED:
                        return seen

    seen = asyncio.run(scenario())
    assert seen[-1]["state"] == "done" and seen[-1]["progress"] == {"done": 8, "total": 8}
    done = [s["progress"]["done"] for s in seen]
    assert done == sorted(done) and any(0 < d < 8 for d in done)  # progress arrives before the end
    assert "running" in [s["state"] for s in seen]
    # a retried request (same Idempotency-Key) queues nothing new
    count = len(plan_server.get(f"{PLAN}/runs", token=planner).body["runs"])
    again = plan_server.post(f"{PLAN}/runs", body, token=planner, headers={"Idempotency-Key": key})
    assert again.status == 202 and (again.body["run"], again.body["state"]) == (seen[-1]["run"], "done")
    assert len(plan_server.get(f"{PLAN}/runs", token=planner).body["runs"]) == count


def test_roles(plan_server, plan_tokens, planner):
    clerk = plan_tokens.login("c16")
    refused = plan_server.get(f"{PLAN}/templates", token=clerk)
    assert refused.status == 403 and refused.error["code"] == "forbidden"
    assert plan_server.get(f"{PLAN}/templates").status == 401
    assert plan_server.get(f"{PLAN}/runs", token=plan_tokens.kiosk).status == 403
    manager = plan_tokens.login("admin")
    assert plan_server.get(f"{PLAN}/templates", token=manager).status == 200
    # the planner can do nothing on the live hall
    assert plan_server.post(f"{HALL}/windows/16/open", {"clerk": "c16"}, token=manager).status == 200
    plan_server.post(f"{HALL}/tickets", {"category": "tax", "channel": "counter"}, token=manager)
    seq = plan_server.get(f"{HALL}/snapshot").body["seq"]
    call = plan_server.post(f"{HALL}/windows/16/call-next", token=planner)
    assert call.status == 403 and call.error["code"] == "forbidden"
    for path, body in ((f"{HALL}/tickets", {"category": "tax"}), (f"{HALL}/clerks/c16/move", {"to_window": 17})):
        assert plan_server.post(path, body, token=planner).status == 403
    assert plan_server.get(f"{HALL}/events", token=planner).status == 403
    assert plan_server.get(f"{HALL}/snapshot").body["seq"] == seq

    async def feeds():
        for path, token in (("/ws/plan", clerk), ("/ws/plan", ""), ("/ws/manager?hall=demo", planner)):
            async with connect(f"{plan_server.ws}{path}{'&' if '?' in path else '?'}token={token}") as ws:
                with pytest.raises(ConnectionClosed) as info:
                    await asyncio.wait_for(ws.recv(), 5)
                assert info.value.rcvd.code in (4401, 4403)

    asyncio.run(feeds())


def test_results_and_scenarios_survive_a_restart(server_factory):
    server = server_factory()
    authority = Authority(load_config(server.config), SECRET.encode())
    planner = Tokens(authority, server).login("planner")
    config = template(server, planner)
    done = simulate(server, planner, config, reps=3)
    assert server.request("PUT", f"{PLAN}/scenarios/keep", {"config": config}, token=planner).status == 200
    demo = template(server, planner, "hall:demo")
    long = server.post(f"{PLAN}/runs", {"kind": "simulate", "config": demo, **LONG}, token=planner).body["run"]
    wait_state(server, planner, long, "running")
    server.stop()

    again = server_factory()  # the same configuration and data directory
    planner = Tokens(authority, again).login("planner")
    runs = {r["run"]: r for r in again.get(f"{PLAN}/runs", token=planner).body["runs"]}
    assert runs[done["run"]]["state"] == "done"
    assert again.get(f"{PLAN}/runs/{done['run']}", token=planner).body["result"] == done["result"]
    report = again.get(f"{PLAN}/runs/{done['run']}/report", token=planner)
    assert report.status == 200 and "仿真报告" in report.body
    assert runs[long]["state"] == "failed" and "interrupted" in runs[long]["error"]
    assert again.get(f"{PLAN}/scenarios/keep", token=planner).body["config"] == config


def test_every_server_worker_shares_the_runs(server_factory, redis_url):
    """With Redis and two server processes, each answers about every run; one process runs them."""
    server = server_factory(redis=redis_url, workers=2)
    planner = Tokens(Authority(load_config(server.config), SECRET.encode()), server).login("planner")
    config = template(server, planner)
    done = simulate(server, planner, config, reps=3)  # polled through both processes
    for _ in range(6):  # every request a new connection: the kernel spreads them over the processes
        assert done["run"] in [r["run"] for r in server.get(f"{PLAN}/runs", token=planner).body["runs"]]
        assert server.get(f"{PLAN}/runs/{done['run']}", token=planner).body["result"] == done["result"]
    demo = template(server, planner, "hall:demo")
    ids = [
        server.post(f"{PLAN}/runs", {"kind": "simulate", "config": demo, **LONG}, token=planner).body["run"]
        for _ in range(4)
    ]
    assert server.post(f"{PLAN}/runs", {"kind": "simulate", "config": demo}, token=planner).status == 429
    wait_state(server, planner, ids[0], "running")
    for rid in reversed(ids):
        assert server.post(f"{PLAN}/runs/{rid}/cancel", token=planner).body["state"] == "cancelled"
    assert len(workers(server)) <= 1  # only the process that owns the queue runs simulations
