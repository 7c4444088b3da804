"""A real ``hallq serve`` process on a free port, and small HTTP/WebSocket helpers.

The test hall is the example hall open around the clock (so tests can take
tickets at any hour) with its journal in a temporary directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from queue_server.auth import Authority
from queue_server.config import load_config
from tests.conftest import LIVE_TZ_NAME, ROOT, free_port

SECRET = "test-secret-not-for-production"


def write_test_config(directory: Path, **overrides: Any) -> Path:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["hours"] = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "00:00", "close": "23:59"}
    raw.pop("demand", None)
    raw["timezone"] = LIVE_TZ_NAME  # midday now, whatever the hour of the run (tests.conftest._live_zone)
    raw["storage"] = {"data_dir": str(directory / "data"), "fsync": "everysec"}
    # the live twin only where a test asks for it (``simulation={...}``): it costs CPU
    raw["simulation"] = {**raw.get("simulation", {}), "live_twin": {"enabled": False}}
    raw.update(overrides)
    path = directory / "hall.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> dict[str, Any]:
        return dict(self.body["error"])


@dataclass
class Server:
    config: Path
    port: int
    redis: str | None = None
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        cmd = [
            sys.executable,
            "-m",
            "queue_server.cli",
            "serve",
            "--config",
            str(self.config),
            "--port",
            str(self.port),
        ]
        if self.redis:
            cmd += ["--redis", self.redis, "--workers", str(self.workers)]
        env = os.environ | {"HALLQ_SECRET": SECRET, "PYTHONUNBUFFERED": "1", "HALLQ_REQUEST_TIMEOUT": "3"}
        self.log = self.config.parent / f"server-{self.port}.log"
        with open(self.log, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if self.get("/readyz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop(kill=True)  # never leave a half-started server (and its Popen) behind
        raise RuntimeError(f"server did not become ready in {timeout:g} s:\n{self.log.read_text()}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Response:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None and raw is None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                payload = resp.read()
                status, hdrs = resp.status, dict(resp.headers)
        except urllib.error.HTTPError as err:
            payload, status, hdrs = err.read(), err.code, dict(err.headers)
        try:
            parsed: Any = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        return Response(status, parsed, hdrs)

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, body if body is not None else {}, **kw)


@dataclass
class Tokens:
    authority: Authority
    server: Server

    def device(self, device_id: str) -> str:
        return self.authority.device_token(device_id)

    def login(self, user: str, password: str = "hallq-demo") -> str:
        resp = self.server.post("/api/v1/auth/login", {"user": user, "password": password})
        assert resp.status == 200, resp.body
        return str(resp.body["token"])

    @property
    def kiosk(self) -> str:
        return self.device("kiosk-1")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def make(redis: str | None = None, workers: int = 1, config: Path | None = None, start: bool = True) -> Server:
        cfg = config or (tmp_path / "hall.yaml" if (tmp_path / "hall.yaml").exists() else write_test_config(tmp_path))
        server = Server(cfg, free_port(), redis, workers)
        if start:
            server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: Any) -> Server:
    srv: Server = server_factory()
    return srv


@pytest.fixture
def tokens(server: Server) -> Tokens:
    return Tokens(Authority(load_config(server.config), SECRET.encode()), server)


HALL = "/api/v1/halls/demo"
