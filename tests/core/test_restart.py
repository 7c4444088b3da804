"""The embedded store survives ``kill -9``: the journal holds every acknowledged command.

A child process serves the example hall on a MemoryStore (``fsync: never``, so no
background flush helps), issuing tickets (and now and then serving one) and
printing each acknowledged ticket. The test kills it
with SIGKILL mid-stream, then restarts the hall from the journal.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from queue_server.commands import IssueTicket
from queue_server.config import Hall
from queue_server.hall import HallService
from queue_server.model import Event, HallState, apply_event
from queue_server.stores.memory import JournalLocked, MemoryStore

from .conftest import ROOT

CHILD = r"""
import asyncio, sys
from queue_server.commands import CallNext, FinishService, IssueTicket, OpenWindow, StartService
from queue_server.config import load_config
from queue_server.hall import HallService
from queue_server.stores.memory import MemoryStore

async def main(data_dir):
    hall = load_config("config.yaml").halls[0]
    svc = HallService(hall, MemoryStore(data_dir, fsync="never"))
    await svc.start()
    await svc.execute(OpenWindow(16, "c16"), "clerk:c16")
    cats = ["tax", "household", "social-insurance", "business-setup"]
    i = 0
    while True:  # until killed
        r = await svc.execute(IssueTicket(cats[i % 4]), "kiosk:k1", f"req-{i}")
        print("ISSUED", i, r["ticket"], flush=True)
        if i % 5 == 4:
            for cmd in (CallNext(16), StartService(16), FinishService(16)):
                try:
                    await svc.execute(cmd, "clerk:c16")
                except Exception as exc:  # e.g. nobody waiting for tax
                    print("REFUSED", type(exc).__name__, flush=True)
        i += 1

asyncio.run(main(sys.argv[1]))
"""


def start_child(data_dir: Path) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def journal_events(path: Path) -> list[Event]:
    """Read the journal independently of the store: one JSON line per event."""
    return [Event(**json.loads(line)["e"]) for line in path.read_bytes().splitlines(keepends=True)]


def fold(hall_id: str, events: list[Event]) -> HallState:
    state = HallState(hall_id)
    for e in events:
        apply_event(state, e)
    return state


@pytest.fixture
def killed_mid_stream(tmp_path: Path, example_hall: Hall) -> tuple[Path, dict[str, str]]:
    """Run the child until 120 tickets are acknowledged, check the journal lock, then kill -9 it
    while it keeps issuing (its output is drained all along, so it never waits on us).

    Returns the data directory and the acknowledged tickets (request index -> ticket id).
    """
    data = tmp_path / "data"
    child = start_child(data)
    lines: list[str] = []
    enough = threading.Event()

    def drain() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line)
            if len(lines) >= 150:
                enough.set()
        enough.set()  # end of output: the child exited (or was killed)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert enough.wait(timeout=60) and child.poll() is None, child.stderr.read() if child.stderr else ""

        # while the child runs, a second process may not open its journal
        async def second_opener() -> None:
            store = MemoryStore(data)
            try:
                await HallService(example_hall, store).start()
            finally:
                await store.close()

        with pytest.raises(JournalLocked) as info:
            asyncio.run(second_opener())
        assert str(info.value) == (
            f"{data / 'demo.journal'} is in use by another hallq process; the embedded store serves one process "
            "only (use --redis for several workers)"
        )
        assert child.poll() is None, "the child should still be issuing tickets"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
        reader.join(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    acknowledged: dict[str, str] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ISSUED" and line.endswith("\n"):  # a whole line was printed
            acknowledged[parts[1]] = parts[2]
    assert len(acknowledged) >= 120
    return data, acknowledged


def test_kill_9_loses_nothing_acknowledged(killed_mid_stream: tuple[Path, dict[str, str]], example_hall: Hall) -> None:
    data, acknowledged = killed_mid_stream
    hall = example_hall
    journaled = journal_events(data / "demo.journal")
    assert [e.seq for e in journaled] == list(range(1, len(journaled) + 1))

    async def restart() -> None:
        store = MemoryStore(data)
        svc = HallService(hall, store)
        try:
            await svc.start()
            # the state is exactly the journaled events, folded
            expected = fold(hall.id, journaled)
            assert svc.state.seq == expected.seq == len(journaled)
            assert svc.state.tickets == expected.tickets
            assert svc.state.windows == expected.windows
            assert svc.state.counters == expected.counters
            # every acknowledged ticket exists exactly once
            issued = [e.data["ticket"] for e in journaled if e.type == "ticket.issued"]
            assert len(issued) == len(set(issued)) >= len(acknowledged)
            for ticket in acknowledged.values():
                assert issued.count(ticket) == 1 and ticket in svc.state.tickets
            # a kiosk retrying an acknowledged request after the restart gets its ticket, not a new one
            last = max(acknowledged, key=int)
            cat = ["tax", "household", "social-insurance", "business-setup"][int(last) % 4]
            retry = await svc.execute(IssueTicket(cat), "kiosk:k1", f"req-{last}")
            assert retry["ticket"] == acknowledged[last] and retry["replayed"] is True
            # numbering goes on where it stopped
            fresh = await svc.execute(IssueTicket("tax"), "kiosk:k1")
            assert fresh["ticket"] not in issued
            assert int(fresh["number"][1:]) == expected.counters["L"] + 1
        finally:
            await store.close()

    asyncio.run(restart())


def test_a_torn_last_line_is_discarded(killed_mid_stream: tuple[Path, dict[str, str]], example_hall: Hall) -> None:
    data, _acknowledged = killed_mid_stream
    hall = example_hall
    journal = data / "demo.journal"
    whole = journal.read_bytes()
    good = len(journal_events(journal))
    # the process died in the middle of writing a line: half a JSON object, no newline
    torn = b'{"e":{"seq":' + str(good + 1).encode() + b',"hall":"demo","ts":"2026-11-23T1'
    journal.write_bytes(whole + torn)

    async def restart() -> int:
        store = MemoryStore(data)
        svc = HallService(hall, store)
        try:
            await svc.start()
            assert svc.state.seq == good
            assert journal.read_bytes() == whole  # the torn tail is cut off at start
            r = await svc.execute(IssueTicket("tax"), "kiosk:k1")
            return int(r["seq"])
        finally:
            await store.close()

    seq = asyncio.run(restart())
    assert seq == good + 1
    events = journal_events(journal)  # the new line follows the last whole one
    assert [e.seq for e in events] == list(range(1, good + 2))

    # a whole line whose newline never made it is torn too: it was never acknowledged
    line = json.dumps({"e": {**events[-1].as_dict(), "seq": good + 2}}).encode()
    journal.write_bytes(journal.read_bytes() + line)

    async def again() -> int:
        store = MemoryStore(data)
        svc = HallService(hall, store)
        try:
            await svc.start()
            return svc.state.seq
        finally:
            await store.close()

    assert asyncio.run(again()) == good + 1
