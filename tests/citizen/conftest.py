"""A hall service on the example hall with a manual clock, driven synchronously."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from queue_server.clock import ManualClock
from queue_server.commands import Command
from queue_server.config import Hall
from queue_server.errors import CommandRejected
from queue_server.hall import HallService
from queue_server.privacy import id_check_digit
from queue_server.stores.memory import MemoryStore
from tests.conftest import TZ
from tests.pages.conftest import browser  # noqa: F401 - the one Chromium fixture (Debian's, headless)
from tests.server.conftest import HALL, Server, server_factory, tokens, write_test_config  # noqa: F401 - fixtures

# Short slots so that a slot starting within the next 10 minutes exists at (almost) any
# time of day: the test server runs on the wall clock, open 00:00–23:59.
TEST_APPOINTMENTS = {
    "categories": ["household", "real-estate", "tax"],
    "slot_minutes": 10,
    "walk_in_share": 0.2,
    "days_ahead": 5,
    "cancel_before_minutes": 120,
    "early_minutes": 30,
    "late_minutes": 15,
}


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Any) -> Server:
    factory = request.getfixturevalue("server_factory")
    srv: Server = factory(config=write_test_config(tmp_path, appointments=TEST_APPOINTMENTS))
    return srv


def id_number(serial: int, birth: str = "19800101") -> str:
    """A valid 18-character ID number (right check digit) for tests."""
    first = f"110101{birth}{serial:03d}"
    return first + id_check_digit(first)


def book_household(server: Server, serial: int) -> dict[str, Any]:
    """A booking of the first household slot with room, made through the API (id_number(serial))."""
    slots = server.get(f"{HALL}/appointments/slots?category=household").body["slots"]
    slot = next(s for s in slots if s["left"] > 0)
    body = {"category": "household", "slot_start": slot["start"], "name": "钱多多", "id_number": id_number(serial)}
    made = server.post(f"{HALL}/appointments", body | {"phone": "13600001111"})
    assert made.status == 201, made.body
    return dict(made.body)


def at(day: str, hhmm: str) -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=TZ).timestamp()


@dataclass
class Hallq:
    service: HallService
    clock: ManualClock
    loop: asyncio.AbstractEventLoop

    @property
    def state(self) -> Any:
        return self.service.state

    @property
    def hall(self) -> Hall:
        return self.service.hall

    def do(self, cmd: Command, actor: str = "manager:admin") -> dict[str, Any]:
        return self.loop.run_until_complete(self.service.execute(cmd, actor))

    def refused(self, cmd: Command) -> CommandRejected:
        with pytest.raises(CommandRejected) as info:
            self.do(cmd)
        return info.value

    def events(self) -> list[Any]:
        return self.loop.run_until_complete(self.service.store.read(self.hall.id, 0))

    def set(self, day: str, hhmm: str) -> None:
        self.clock.set(at(day, hhmm))


def make_hallq(hall: Hall, clock: ManualClock) -> Iterator[Hallq]:
    loop = asyncio.new_event_loop()
    service = HallService(hall, MemoryStore(None), clock)
    loop.run_until_complete(service.start())
    yield Hallq(service, clock, loop)
    loop.close()


@pytest.fixture
def hq(example_hall: Hall, clock: ManualClock) -> Iterator[Hallq]:
    yield from make_hallq(example_hall, clock)
