"""Fixtures of the hall-core tests: a small hall whose every rule is easy to see, and a driver.

The small hall ("tiny") has three categories and four windows:

* A 综合 (prefix A), B 证照 (prefix B, daily cap 3), C 税务 (prefix C);
* window 1 and 2 serve A and B, window 3 serves C, window 4 serves everything;
* clerk k1 knows A and B, k2 only A, k3 only C, k4 everything;
* priority groups: elderly (level 2) and disabled (level 1);
* strict_priority calling, a 10-minute no-show recall time, three-digit numbers.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from queue_server.clock import ManualClock
from queue_server.commands import Command
from queue_server.config import Hall, parse_config
from queue_server.errors import CommandRejected
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

TINY: dict[str, Any] = {
    "id": "tiny",
    "name": "小型测试大厅",
    "timezone": "Asia/Shanghai",
    "hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"},
    "ticket_number_width": 3,
    "no_show_recall_minutes": 10,
    "policy": {"name": "strict_priority", "max_wait_minutes": 45, "appointment_early_minutes": 10},
    "priority_groups": [
        {"id": "elderly", "name": "老年人", "level": 2, "boost_minutes": 30},
        {"id": "disabled", "name": "残疾人", "level": 1, "boost_minutes": 20},
    ],
    "zones": [{"id": "z", "name": "综合区"}],
    "categories": [
        {"id": "A", "prefix": "A", "name": "综合", "zone": "z", "service_time": {"mean": 10, "sd": 3}},
        {"id": "B", "prefix": "B", "name": "证照", "zone": "z", "daily_cap": 3, "service_time": {"mean": 10, "sd": 3}},
        {"id": "C", "prefix": "C", "name": "税务", "zone": "z", "service_time": {"mean": 10, "sd": 3}},
    ],
    "window_classes": [
        {"id": "ab", "name": "综合窗口", "kind": "comprehensive", "categories": ["A", "B"]},
        {"id": "c", "name": "税务窗口", "kind": "specialised", "categories": ["C"]},
        {"id": "all", "name": "全科窗口", "kind": "comprehensive", "categories": ["A", "B", "C"]},
    ],
    "windows": [
        {"number": 1, "zone": "z", "class": "ab"},
        {"number": 2, "zone": "z", "class": "ab"},
        {"number": 3, "zone": "z", "class": "c"},
        {"number": 4, "zone": "z", "class": "all"},
    ],
    "clerks": [
        {"id": "k1", "name": "甲", "skills": {"A": 1.0, "B": 1.0}},
        {"id": "k2", "name": "乙", "skills": {"A": 1.0}},
        {"id": "k3", "name": "丙", "skills": {"C": 1.0}},
        {"id": "k4", "name": "丁", "skills": {"A": 1.0, "B": 1.0, "C": 1.0}},
    ],
}


def tiny_raw(**changes: Any) -> dict[str, Any]:
    """The tiny hall as a YAML-ready dict, with top-level ``changes`` (``policy`` is merged)."""
    raw = copy.deepcopy(TINY)
    for key, value in changes.items():
        if key == "policy":
            raw["policy"] = raw["policy"] | value
        else:
            raw[key] = value
    return raw


def make_tiny(**changes: Any) -> Hall:
    return parse_config(tiny_raw(**changes)).halls[0]


@pytest.fixture(scope="session")
def tiny_hall() -> Hall:
    return make_tiny()


def example_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    return data


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class Driver:
    """A HallService on a purely in-memory store, driven synchronously (one event loop per driver)."""

    def __init__(self, hall: Hall, clock: ManualClock, store: Any = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.store = store if store is not None else MemoryStore()
        self.svc = HallService(hall, self.store, clock)
        self.clock = clock
        self.run(self.svc.start())

    def run(self, aw: Awaitable[T]) -> T:
        return self.loop.run_until_complete(aw)

    def do(self, cmd: Command, actor: str = "test", key: str | None = None) -> dict[str, Any]:
        return self.run(self.svc.execute(cmd, actor, key))

    def refused(self, cmd: Command, actor: str = "test", key: str | None = None) -> CommandRejected:
        """Run a command that must be refused; check nothing was stored and return the error."""
        before = self.run(self.store.last_seq(self.svc.hall.id))
        with pytest.raises(CommandRejected) as info:
            self.do(cmd, actor, key)
        assert self.run(self.store.last_seq(self.svc.hall.id)) == before, "a refused command stored an event"
        assert info.value.message and info.value.code
        return info.value

    def events(self, after: int = 0) -> list[Any]:
        return self.run(self.store.read(self.svc.hall.id, after))

    def close(self) -> None:
        self.run(self.store.close())
        self.loop.close()


@pytest.fixture
def driver_factory(clock: ManualClock) -> Iterator[Callable[..., Driver]]:
    made: list[Driver] = []

    def make(hall: Hall, store: Any = None) -> Driver:
        d = Driver(hall, clock, store)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def tiny(driver_factory: Callable[..., Driver], tiny_hall: Hall) -> Driver:
    return driver_factory(tiny_hall)
