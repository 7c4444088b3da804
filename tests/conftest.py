"""Shared fixtures: the example hall, a manual clock, and a real redis-server.

The Redis fixture starts its own ``redis-server`` on a free port with AOF on
(``appendfsync everysec``, ``noeviction``), in a temporary directory, and leaves
any Redis already running on the machine alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from queue_server.clock import ManualClock
from queue_server.config import Hall, load_config

ROOT = Path(__file__).resolve().parent.parent

# Debian's Chromium, headless, quiet on a closed network (the browser tests and the board benchmark)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
TZ = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-23 09:00 in the hall's time zone: the hall has just opened.
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=TZ).timestamp()


def _live_zone() -> str:
    """A fixed-offset zone in which the wall clock reads about noon while the suite runs.

    Servers under test run on the real clock in a hall open 00:00–23:59; in the hall's own
    zone a run near midnight would see the hall close and the day roll over mid-test. The
    test halls therefore take a zone where it is midday now (``HALLQ_TEST_LOCAL_HOUR`` picks
    another hour, e.g. 23.7 to check the behaviour around closing time).
    """
    target = float(os.environ.get("HALLQ_TEST_LOCAL_HOUR", "12"))
    now = datetime.now(UTC)
    offset = round(target - (now.hour + now.minute / 60))
    offset = (offset + 12) % 24 - 12  # Etc zones span UTC-12 … UTC+14
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-8 is UTC+8


# The time zone of the halls that test servers run on the wall clock (see write_test_config).
LIVE_TZ_NAME = _live_zone()
LIVE_TZ = ZoneInfo(LIVE_TZ_NAME)


# What libfaketime's preload puts in the environment (``faketime '+400 days' make test``, the
# suite's date-proof run). Our own code runs under it — that is the point — but a service a
# fixture starts (redis-server) is not ours and does not start under the preload, so it gets
# the environment without it and runs on the machine's real clock, as in production.
FAKETIME_VARS = ("LD_PRELOAD", "FAKETIME", "FAKETIME_NO_CACHE", "FAKETIME_DONT_RESET", "DONT_FAKE_MONOTONIC")


def service_env() -> dict[str, str]:
    """The environment for a third-party service started by a fixture: without libfaketime."""
    return {k: v for k, v in os.environ.items() if k not in FAKETIME_VARS and not k.startswith("FAKETIME")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def example_hall() -> Hall:
    return load_config(ROOT / "config.yaml").halls[0]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_9AM)


@dataclass
class RedisServer:
    """A redis-server process of our own; ``restart()`` keeps its data directory (AOF)."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed; run `make test`, which installs it")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
                "--daemonize",
                "no",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=service_env(),
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the session's redis-server."""
    if redis_server.proc is None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
