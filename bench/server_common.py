"""Shared parts of the realtime-server benchmarks: a bench hall, our own redis-server
and ``hallq serve`` processes on free loopback ports.

The bench hall is the example hall (config.yaml) open around the clock, without
daily caps and with five-digit ticket numbers, so a benchmark can issue tens of
thousands of tickets in one day. Every process started here is stopped by the
``with`` block that started it; the machine's own Redis (127.0.0.1:6379) is never
touched.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import RedisServer, free_port  # noqa: E402 - the same helpers the tests use

SECRET = "bench-secret-not-for-production"
HALL = "demo"
API = f"/api/v1/halls/{HALL}"
ADMIN = {"user": "admin", "password": "hallq-demo"}


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def raise_open_files(wanted: int) -> int:
    """Lift this process's open-file limit towards ``wanted`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def write_bench_config(directory: Path, tree: Path | None = None) -> Path:
    """The bench hall, from the example hall of ``tree`` (default: this checkout)."""
    raw = yaml.safe_load(((tree or ROOT) / "config.yaml").read_text(encoding="utf-8"))
    raw["hours"] = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "00:00", "close": "23:59"}
    raw.pop("demand", None)
    raw["ticket_number_width"] = 5
    for cat in raw["categories"]:
        cat.pop("daily_cap", None)
    raw["storage"] = {"data_dir": str(directory / "data"), "fsync": "everysec"}
    path = directory / "hall.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def categories(config: Path) -> list[str]:
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    return [c["id"] for c in raw["categories"]]


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """Our own redis-server (AOF on, noeviction) in ``directory``: the test suite's RedisServer."""
    if shutil.which("redis-server") is None:
        sys.exit("redis-server 未安装 (redis-server is not installed; apt-get install redis-server)")
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(free_port(), directory)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """A small blocking JSON request (set-up only; the measured requests use aiohttp)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its descendants (the server's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


class Served(str):
    """The base URL of a running server; ``cpu()`` gives the CPU seconds its processes used."""

    pid: int

    def cpu(self) -> float:
        return cpu_seconds(self.pid)


@contextmanager
def hallq_server(
    config: Path, redis: str | None = None, workers: int = 1, tree: Path | None = None
) -> Iterator[Served]:
    """``hallq serve`` on a free loopback port; yields its base URL.

    ``tree`` runs the server from another checkout of hallq (a "before" tree for a
    before/after comparison in one run); default: the tree this script is in.
    """
    root = (tree or ROOT).resolve()
    port = free_port()
    cmd = [sys.executable, "-m", "queue_server.cli", "serve", "--config", str(config), "--port", str(port)]
    if redis:
        cmd += ["--redis", redis, "--workers", str(workers)]
    # HALLQ_BENCH_SERVER_PATH: extra entries in front of the server's PYTHONPATH (profiling hooks)
    path = os.environ.get("HALLQ_BENCH_SERVER_PATH", "") + str(root)
    env = os.environ | {"HALLQ_SECRET": SECRET, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    log = config.parent / f"server-{port}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = Served(f"http://127.0.0.1:{port}")
    base.pid = proc.pid
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if http("GET", base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready:\n{log.read_text()}")
            time.sleep(0.1)
        settle(base)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def settle(base: Served, quiet_cpu: float = 0.05, window: float = 0.5, limit: float = 20.0) -> None:
    """Wait until the server's processes are idle: /readyz answers as soon as one worker is up, while
    the others may still be importing and rebuilding the hall — work that would land in the figures."""
    deadline = time.monotonic() + limit
    before = base.cpu()
    while time.monotonic() < deadline:
        time.sleep(window)
        now = base.cpu()
        if now - before < quiet_cpu * window * 2:  # under 5% of each of two cores
            return
        before = now


def login(base: str) -> str:
    status, body = http("POST", base + "/api/v1/auth/login", ADMIN)
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body}")
    return str(body["token"])


@contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hallq-bench-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def load_average() -> float:
    """The machine's 1-minute load average (other work on the same cores shows here)."""
    return os.getloadavg()[0]


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}, load average {load[0]:.2f} at start"
