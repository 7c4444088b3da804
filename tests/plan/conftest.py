"""The planner's workbench against a real server process (see tests/server/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.conftest import free_port
from tests.server.conftest import SECRET, Server, Tokens, server_factory, write_test_config  # noqa: F401

PLAN = "/api/v1/plan"
ENDED = ("done", "failed", "cancelled")


@pytest.fixture(scope="module")
def plan_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(write_test_config(tmp_path_factory.mktemp("plan")), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plan_tokens(plan_server: Server) -> Tokens:
    return Tokens(Authority(load_config(plan_server.config), SECRET.encode()), plan_server)


@pytest.fixture(scope="module")
def planner(plan_tokens: Tokens) -> str:
    return plan_tokens.login("planner")


def template(server: Server, token: str, template_id: str = "starter") -> dict[str, Any]:
    resp = server.get(f"{PLAN}/templates/{template_id}", token=token)
    assert resp.status == 200, resp.body
    config: dict[str, Any] = resp.body["config"]
    return config


def wait_run(server: Server, token: str, run: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = server.get(f"{PLAN}/runs/{run}", token=token).body
        if body["state"] in ENDED:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def simulate(server: Server, token: str, config: dict[str, Any], **kw: Any) -> dict[str, Any]:
    resp = server.post(f"{PLAN}/runs", {"kind": "simulate", "config": config, **kw}, token=token)
    assert resp.status == 202, resp.body
    done = wait_run(server, token, resp.body["run"])
    assert done["state"] == "done", done
    return done


def kpi(result: dict[str, Any], key: str) -> dict[str, Any]:
    return next(k for k in result["kpis"] if k["key"] == key)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
