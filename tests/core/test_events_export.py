"""The event log as the audit trail: one event per change, no personal data, exported by ``hallq``.

A day at the example hall exercises every event type; ``hallq events export``
runs as a real subprocess against the embedded journal and against Redis.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from queue_server.cli import EXPORT_COLUMNS
from queue_server.clock import ManualClock
from queue_server.commands import (
    CallNext,
    CancelTicket,
    CloseWindow,
    Command,
    FinishService,
    IssueTicket,
    MoveClerk,
    NoShow,
    OpenWindow,
    PauseWindow,
    RateService,
    Recall,
    ResumeWindow,
    SetWindowProfile,
    StartService,
    Transfer,
)
from queue_server.config import Hall, parse_config
from queue_server.hall import HallService
from queue_server.model import Event
from queue_server.stores.base import Store
from queue_server.stores.memory import MemoryStore
from queue_server.stores.redis import RedisStore
from tests.conftest import MONDAY_9AM

from .conftest import ROOT, example_raw, write_yaml

EVERY_EVENT_TYPE = {
    "ticket.issued",
    "ticket.called",
    "ticket.recalled",
    "ticket.no_show",
    "ticket.started",
    "ticket.finished",
    "ticket.transferred",
    "ticket.cancelled",
    "ticket.rated",
    "window.opened",
    "window.paused",
    "window.resumed",
    "window.closed",
    "clerk.moved",
    "window.profile_set",
}
# Field names that would mean a citizen's or clerk's personal data slipped into the log.
PERSONAL = ("name", "phone", "mobile", "tel", "id_card", "idcard", "id_number", "identity", "address", "email",
            "birth", "passport", "姓名", "电话", "身份证", "地址")


def day_at_the_hall(hall_id: str) -> list[tuple[Command, str]]:
    """Commands (with their actors) that produce every kind of event."""
    appt = MONDAY_9AM + 3600
    return [
        (IssueTicket("tax"), "kiosk:k1"),
        (IssueTicket("tax", channel="counter", priority_group="elderly"), "manager:m1"),
        (IssueTicket("tax", channel="appointment", appointment_start=appt, appointment_end=appt + 900), "citizen"),
        (IssueTicket("household"), "kiosk:k2"),
        (OpenWindow(16, "c16"), "clerk:c16"),
        (CallNext(16), "clerk:c16"),  # the elderly citizen first
        (Recall(16), "clerk:c16"),
        (StartService(16), "clerk:c16"),
        (FinishService(16, "accepted_pending", "RQ-2026-001"), "clerk:c16"),
        (CallNext(16), "clerk:c16"),
        (NoShow(16), "clerk:c16"),
        (CallNext(16), "clerk:c16"),
        (StartService(16), "clerk:c16"),
        (Transfer(16, to_category="household"), "clerk:c16"),
        (PauseWindow(16, "maintenance"), "clerk:c16"),
        (ResumeWindow(16), "clerk:c16"),
        (CloseWindow(16), "clerk:c16"),
        (MoveClerk("c13", 13), "manager:m1"),
        (SetWindowProfile(13, ("household",)), "manager:m1"),  # 工作模式: window 13 calls household only
        (CallNext(13), "clerk:c13"),  # L003 keeps its place ahead of J001
        (CancelTicket("20261123-J001"), "citizen"),
        (StartService(13), "clerk:c13"),
        (FinishService(13, "completed"), "clerk:c13"),
        (RateService("20261123-L002", 1, "等候时间太长"), "citizen"),
    ]


async def play(hall: Hall, store: Store) -> list[Event]:
    clock = ManualClock(MONDAY_9AM)
    svc = HallService(hall, store, clock)
    await svc.start()
    for cmd, actor in day_at_the_hall(hall.id):
        clock.advance(60)
        await svc.execute(cmd, actor)
    return await store.read(hall.id, 0)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A two-hall deployment file whose journals live in ``tmp_path/data``: (config path, data dir)."""
    demo = example_raw()
    demo.pop("storage")
    auth = demo.pop("auth")  # accounts and devices belong to the deployment, not to one hall
    for user in auth["users"]:
        if user["role"] == "clerk":
            user["hall"] = "demo"  # with several halls, a clerk names theirs
    east = example_raw()
    east.pop("storage")
    east.pop("auth")
    east["id"], east["name"] = "east", "东区分中心"
    data = tmp_path / "data"
    raw = {"storage": {"data_dir": str(data), "fsync": "always"}, "auth": auth, "halls": [demo, east]}
    yield write_yaml(tmp_path / "halls.yaml", raw), data


def halls(config: Path) -> dict[str, Hall]:
    import yaml

    return {h.id: h for h in parse_config(yaml.safe_load(config.read_text(encoding="utf-8"))).halls}


def hallq(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


@pytest.fixture
def journals(deployment: tuple[Path, Path]) -> tuple[Path, dict[str, list[Event]]]:
    config, data = deployment

    async def both() -> dict[str, list[Event]]:
        store = MemoryStore(data, fsync="always")
        try:
            return {hall_id: await play(hall, store) for hall_id, hall in halls(config).items()}
        finally:
            await store.close()

    return config, asyncio.run(both())


# ------------------------------------------------------------------ the log itself


def test_every_change_appends_exactly_one_event(journals: tuple[Path, dict[str, list[Event]]]) -> None:
    _config, logs = journals
    events = logs["demo"]
    assert len(events) == len(day_at_the_hall("demo"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.type for e in events} == EVERY_EVENT_TYPE
    assert all(e.hall == "demo" for e in events)
    stamps = [e.ts for e in events]
    assert stamps == sorted(stamps) and stamps[0] == "2026-11-23T09:01:00.000+08:00"
    assert [e.actor for e in events] == [actor for _cmd, actor in day_at_the_hall("demo")]
    called = [e for e in events if e.type == "ticket.called"]
    assert [e.data["number"] for e in called] == ["L002", "L001", "L003", "L003"]
    assert all(e.data["reason"] for e in called)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def test_event_payloads_carry_no_personal_data(journals: tuple[Path, dict[str, list[Event]]]) -> None:
    config, logs = journals
    clerk_names = {c.name for h in halls(config).values() for c in h.clerks}
    for event in logs["demo"] + logs["east"]:
        for path, item in _walk(event.data):
            if not isinstance(item, str):
                continue
            lowered = item.lower()
            if path.endswith("." + item):  # a field name
                assert not any(p in lowered for p in PERSONAL), f"{event.type}: personal field {path}"
            assert not any(name in item for name in clerk_names), f"{event.type}: a clerk's name in {path}"
            assert not re.search(r"\d{11,}|\d{17}[\dXx]", item), f"{event.type}: a phone or ID number in {path}"
        # clerks appear by id only
        if "clerk" in event.data and event.data["clerk"] is not None:
            assert re.fullmatch(r"c\d\d", event.data["clerk"])


# ------------------------------------------------------------------ hallq events export


def test_export_jsonl_is_the_log(journals: tuple[Path, dict[str, list[Event]]]) -> None:
    config, logs = journals
    done = hallq("events", "export", "--config", str(config), "--hall", "demo", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [Event.from_json(line) for line in lines] == logs["demo"]
    assert '"reason_zh":"系统维护"' in done.stdout  # Chinese stays readable


def test_export_csv(journals: tuple[Path, dict[str, list[Event]]]) -> None:
    config, logs = journals
    done = hallq("events", "export", "--config", str(config), "--hall", "east", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert tuple(rows[0].keys()) == EXPORT_COLUMNS
    assert len(rows) == len(logs["east"])
    for row, event in zip(rows, logs["east"], strict=True):
        assert (int(row["seq"]), row["ts"], row["hall"], row["actor"], row["type"]) == (
            event.seq,
            event.ts,
            "east",
            event.actor,
            event.type,
        )
        assert json.loads(row["data"]) == event.data
        assert row["ticket"] == event.data.get("ticket", "")
    moved = next(r for r in rows if r["type"] == "clerk.moved")
    assert (moved["window"], moved["clerk"]) == ("13", "c13")
    called = next(r for r in rows if r["type"] == "ticket.called")
    assert (called["number"], called["window"], called["category"]) == ("L002", "16", "tax")


def test_export_after_a_seq_to_a_file(journals: tuple[Path, dict[str, list[Event]]], tmp_path: Path) -> None:
    config, logs = journals
    out = tmp_path / "out.jsonl"
    done = hallq("events", "export", "--config", str(config), "--after", "20", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and f"wrote 4 events to {out}" in done.stderr
    # no --hall: the first hall of the file
    assert [Event.from_json(line) for line in out.read_text(encoding="utf-8").splitlines()] == logs["demo"][20:]


def test_export_of_an_unknown_hall_is_a_clear_error(journals: tuple[Path, dict[str, list[Event]]]) -> None:
    config, _logs = journals
    done = hallq("events", "export", "--config", str(config), "--hall", "west")
    assert done.returncode == 1
    assert done.stderr.strip() == f"hallq: --hall: no hall 'west' in {config} (halls: demo, east)"


def test_export_while_the_server_holds_the_journal(journals: tuple[Path, dict[str, list[Event]]]) -> None:
    """A running server keeps its journal locked; the export reads it read-only all the same."""
    config, logs = journals

    async def hold_and_export() -> subprocess.CompletedProcess[str]:
        store = MemoryStore(halls_data(config))
        try:
            await store.read("demo", 0)  # this process now holds demo.journal
            return hallq("events", "export", "--config", str(config), "--hall", "demo")
        finally:
            await store.close()

    done = asyncio.run(hold_and_export())
    assert done.returncode == 0, done.stderr
    exported = [Event.from_json(line) for line in done.stdout.splitlines()]
    assert [e.to_json() for e in exported] == [e.to_json() for e in logs["demo"]]


def halls_data(config: Path) -> Path:
    import yaml

    return Path(yaml.safe_load(config.read_text(encoding="utf-8"))["storage"]["data_dir"])


def test_export_from_redis(deployment: tuple[Path, Path], redis_url: str) -> None:
    config, _data = deployment
    demo = halls(config)["demo"]

    async def fill() -> list[Event]:
        store = RedisStore(redis_url)
        try:
            return await play(demo, store)
        finally:
            await store.close()

    events = asyncio.run(fill())
    done = hallq("events", "export", "--config", str(config), "--hall", "demo", "--redis", redis_url)
    assert done.returncode == 0, done.stderr
    assert [Event.from_json(line) for line in done.stdout.splitlines()] == events
    done = hallq("events", "export", "--config", str(config), "--hall", "east", "--redis", redis_url)
    assert done.returncode == 0 and done.stdout == ""  # the other hall has its own, empty, log
