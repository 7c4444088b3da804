"""The journal on disk: damage is refused, data_dir is relative to the config file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from queue_server.commands import IssueTicket
from queue_server.config import load_config
from queue_server.errors import HallqError
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore
from tests.conftest import ROOT


def _journal_with(example_hall, clock, directory: Path, n: int) -> Path:
    async def fill():
        store = MemoryStore(directory, fsync="always")
        svc = HallService(example_hall, store, clock)
        await svc.start()
        for _ in range(n):
            await svc.execute(IssueTicket("tax", channel="counter"), "manager:admin")
        await store.close()

    asyncio.run(fill())
    return directory / f"{example_hall.id}.journal"


def test_a_line_damaged_in_the_middle_is_refused_not_silently_dropped(example_hall, clock, tmp_path):
    journal = _journal_with(example_hall, clock, tmp_path, 5)
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"e": garbage}\n'
    journal.write_bytes(b"".join(lines))

    async def reopen():
        store = MemoryStore(tmp_path)
        try:
            await store.read(example_hall.id, 0)
        finally:
            await store.close()

    with pytest.raises(HallqError, match="journal line 3 is damaged and lines follow it"):
        asyncio.run(reopen())
    assert len(journal.read_bytes().splitlines()) == 5  # nothing was cut off


def test_data_dir_is_relative_to_the_config_file(tmp_path, monkeypatch):
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["storage"]["data_dir"] = "journals"
    (tmp_path / "site").mkdir()
    path = tmp_path / "site" / "hall.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the command runs elsewhere
    assert Path(load_config("site/hall.yaml").storage.data_dir) == tmp_path / "site" / "journals"


def test_a_window_cannot_narrow_to_no_categories():
    from queue_server.config import parse_config
    from queue_server.errors import ConfigError

    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["windows"][0]["categories"] = []
    with pytest.raises(ConfigError, match=r"windows\[0\]\.categories"):
        parse_config(raw)
