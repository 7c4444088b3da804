"""MemoryStore: the embedded default — one process, durable through a journal.

Each hall has an append-only journal ``<data_dir>/<hall>.journal``: one JSON line
per event (with the idempotency record of the command that made it). A command is
acknowledged only after its line was written to the file, so a killed process
(``kill -9``) loses nothing; ``fsync`` decides what a power cut may lose:
``always`` nothing, ``everysec`` about the last second, ``never`` what the OS had
not flushed. At start the journal is replayed; a torn last line (the process died
mid-write) is cut off, so a command is either wholly there or not at all.

The journal is locked (``flock``): a second process opening the same hall is
refused, which is what keeps the embedded store to one worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import threading
import time
from array import array
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import HallqError
from ..model import Event
from .base import AppendOutcome, IdempotencyRecord, Turn


class JournalLocked(HallqError):
    """Another process holds this hall's journal."""


# Events kept in memory per hall; older ones are read back from the journal by offset,
# so a hall that runs for a year holds a few MB of offsets, not a year of events.
RECENT_EVENTS = 5000


class _HallLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.last_seq = 0
        self.recent: deque[Event] = deque(maxlen=RECENT_EVENTS if path is not None else None)
        self.offsets = array("q")  # byte offset of event seq n's line at index n - 1
        self.size = 0  # bytes of good journal
        self.idem: dict[str, IdempotencyRecord] = {}
        self.file: IO[bytes] | None = None

    def add(self, event: Event, line_bytes: int) -> None:
        self.recent.append(event)
        self.offsets.append(self.size)
        self.size += line_bytes
        self.last_seq = event.seq

    def live_record(self, key: str, now: float) -> IdempotencyRecord | None:
        """The record of ``key`` if it still answers at hall-clock time ``now``."""
        record = self.idem.get(key)
        return record if record is not None and record.live_at(now) else None

    def forget_old_keys(self, now: float) -> None:
        """Drop the records expired at hall-clock time ``now`` (memory only: a lookup checks age itself)."""
        for key in [k for k, record in self.idem.items() if not record.live_at(now)]:
            del self.idem[key]


def journal_entries(f: IO[bytes], path: Path) -> Iterator[tuple[dict[str, Any], Event, int]]:
    """(line, event, bytes) for each whole journal line, in order.

    Stops at a torn last line (the process died while writing it: that command was
    never acknowledged). A bad line with whole lines after it is damage, not a torn
    write, and is refused rather than silently dropping what follows.
    """
    expected = 1
    for raw in f:
        try:
            if not raw.endswith(b"\n"):
                raise ValueError("no end of line")
            line = json.loads(raw)
            event = Event(**line["e"])
        except (ValueError, TypeError, KeyError):
            if f.read(1):
                raise HallqError(
                    f"{path}: journal line {expected} is damaged and lines follow it; restore the file from a backup"
                ) from None
            return
        if event.seq != expected:
            raise HallqError(f"{path}: journal line {expected} has seq {event.seq}; the file is damaged")
        yield line, event, len(raw)
        expected += 1


def read_journal(path: str | Path) -> list[Event]:
    """Every event of a journal, read-only and without its lock (exports while the server runs)."""
    p = Path(path)
    if not p.exists():
        return []
    with open(p, "rb") as f:
        return [event for _line, event, _size in journal_entries(f, p)]


class MemoryStore:
    """In-process store; pass ``data_dir=None`` for a purely in-memory one (tests, simulation)."""

    shared = False  # one process: nobody else writes these halls

    def __init__(self, data_dir: str | Path | None = None, fsync: str = "everysec") -> None:
        self._dir = Path(data_dir) if data_dir is not None else None
        self._documents: dict[tuple[str, str], str] = {}
        self._leases: dict[tuple[str, str], float] = {}
        self._fsync = fsync
        self._halls: dict[str, _HallLog] = {}
        self._mutex = threading.Lock()  # guards file writes against the fsync thread
        self._dirty: set[str] = set()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if self._dir is not None and fsync == "everysec":
            self._flusher = threading.Thread(target=self._flush_loop, name="hallq-journal-fsync", daemon=True)
            self._flusher.start()

    # -- journal

    def journal_path(self, hall: str) -> Path | None:
        return self._dir / f"{hall}.journal" if self._dir is not None else None

    def _log(self, hall: str) -> _HallLog:
        log = self._halls.get(hall)
        if log is None:
            path = self.journal_path(hall)
            log = _HallLog(path)
            if path is not None:
                log.file = self._open_journal(path, log)
            self._halls[hall] = log
        return log

    def _open_journal(self, path: Path, log: _HallLog) -> IO[bytes]:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+b")  # noqa: SIM115 - kept open for the store's lifetime
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise JournalLocked(
                f"{path} is in use by another hallq process; the embedded store serves one process only "
                "(use --redis for several workers)"
            ) from None
        f.seek(0)
        # Records are aged on the hall's clock as the journal recorded it (each event's ``at``),
        # never on this machine's clock: the last event's time bounds what is kept in memory, and
        # each lookup checks a record's age against the caller's hall-clock ``now``.
        try:
            for line, event, size in journal_entries(f, path):
                log.add(event, size)
                if line.get("k"):
                    log.idem[line["k"]] = IdempotencyRecord(line["f"], line["r"], event.seq, event.at)
                    if len(log.idem) % 1000 == 0:
                        log.forget_old_keys(event.at)
            if log.recent:
                log.forget_old_keys(log.recent[-1].at)
        except HallqError:
            f.close()
            raise
        if log.size != f.tell():
            f.truncate(log.size)  # the torn last line of a command that was never acknowledged
        f.seek(0, os.SEEK_END)
        return f

    def _flush_loop(self) -> None:
        while not self._stop.wait(1.0):
            self._sync_dirty()

    def _sync_dirty(self) -> None:
        # Only taking the dirty set holds the mutex: every line is already flushed to the
        # OS by append, so the fsync itself (milliseconds, longer on a busy disk) runs
        # without blocking the event loop's next append.
        with self._mutex:
            files = [self._halls[hall].file for hall in self._dirty]
            self._dirty.clear()
        for f in files:
            if f is not None:
                with contextlib.suppress(OSError, ValueError):  # closed meanwhile by close()
                    os.fsync(f.fileno())

    # -- Store contract

    async def append(self, event: Event, key: str | None, record: IdempotencyRecord | None) -> AppendOutcome:
        log = self._log(event.hall)
        prior = log.live_record(key, record.at if record is not None else event.at) if key is not None else None
        if prior is not None:
            return AppendOutcome("duplicate", log.last_seq, prior)
        keyed = [(key, record)] if key is not None and record is not None else []
        return self._append_run(event.hall, event.seq - 1, [event], keyed)

    def _append_run(
        self, hall: str, after: int, events: list[Event], keyed: list[tuple[str, IdempotencyRecord]]
    ) -> AppendOutcome:
        """Append ``events`` after ``after`` if that is still the last seq and no key is used: all or nothing.

        The run is written to the journal in one write, flushed to the OS before the
        caller acknowledges anything; a torn run (the process killed mid-write) is cut
        back to its last whole line at the next start.
        """
        log = self._log(hall)
        for key, record in keyed:
            prior = log.live_record(key, record.at)
            if prior is not None:
                return AppendOutcome("duplicate", log.last_seq, prior)
        if after != log.last_seq:
            return AppendOutcome("conflict", log.last_seq)
        if [e.seq for e in events] != list(range(after + 1, after + 1 + len(events))):
            raise ValueError(f"events of a run must follow seq {after} one by one")
        records = {record.seq: (key, record) for key, record in keyed}
        sizes = [0] * len(events)
        if log.file is not None and events:
            lines = []
            for i, event in enumerate(events):
                line: dict[str, Any] = {"e": event.as_dict()}
                if event.seq in records:
                    key, record = records[event.seq]
                    line |= {"k": key, "f": record.fingerprint, "r": record.result}
                data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
                sizes[i] = len(data)
                lines.append(data)
            with self._mutex:
                log.file.write(b"".join(lines))
                log.file.flush()  # in the OS before we acknowledge: a kill -9 loses nothing
                if self._fsync == "always":
                    os.fsync(log.file.fileno())
                else:
                    self._dirty.add(hall)
        for event, size in zip(events, sizes, strict=True):
            log.add(event, size)
            if event.seq in records:
                log.idem[records[event.seq][0]] = records[event.seq][1]
                if len(log.idem) % 1000 == 0:
                    log.forget_old_keys(event.at)
        return AppendOutcome("ok", log.last_seq)

    async def begin(self, hall: str, writer: str, after: int, keys: list[str], now: float) -> Turn:
        """One process: the turn is always free."""
        log = self._log(hall)
        records = {}
        for key in keys:
            record = log.live_record(key, now)
            if record is not None:
                records[key] = record
        return Turn(False, log.last_seq, tuple(await self.read(hall, after, 1000)), records)

    async def commit(
        self,
        hall: str,
        writer: str,
        after: int,
        events: list[Event],
        keyed: list[tuple[str, IdempotencyRecord]],
        *,
        unless_busy: bool = False,
    ) -> AppendOutcome:
        return self._append_run(hall, after, events, keyed)

    async def release(self, hall: str, writer: str) -> None:
        return None

    async def wait_turn(self, hall: str, writer: str, timeout: float) -> None:
        return None

    async def read(self, hall: str, after: int, limit: int | None = None) -> list[Event]:
        log = self._log(hall)
        after = max(after, 0)
        end = log.last_seq if limit is None else min(log.last_seq, after + limit)
        if end <= after:
            return []
        first_cached = log.last_seq - len(log.recent) + 1
        if after + 1 >= first_cached:
            start = after + 1 - first_cached
            return list(itertools.islice(log.recent, start, start + end - after))
        return self._read_journal(log, after, end)

    def _read_journal(self, log: _HallLog, after: int, end: int) -> list[Event]:
        """Events ``after+1 .. end`` from the journal file (for readers far behind)."""
        assert log.path is not None
        with self._mutex:
            if log.file is not None:
                log.file.flush()
        out: list[Event] = []
        with open(log.path, "rb") as f:
            f.seek(log.offsets[after])
            for raw in f:
                out.append(Event(**json.loads(raw)["e"]))
                if len(out) == end - after:
                    break
        return out

    async def last_seq(self, hall: str) -> int:
        return self._log(hall).last_seq

    async def idempotency(self, hall: str, key: str, now: float) -> IdempotencyRecord | None:
        return self._log(hall).live_record(key, now)

    async def put_document(self, hall: str, name: str, text: str) -> None:
        self._documents[(hall, name)] = text
        if self._dir is not None:  # beside the journal, written whole or not at all
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._dir / f"{hall}.{name}.json"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)

    async def get_document(self, hall: str, name: str) -> str | None:
        if (hall, name) not in self._documents and self._dir is not None:
            path = self._dir / f"{hall}.{name}.json"
            if path.exists():
                self._documents[(hall, name)] = path.read_text(encoding="utf-8")
        return self._documents.get((hall, name))

    async def try_lease(self, hall: str, name: str, seconds: float) -> bool:
        # A lease times a job of this process (a roster run), not the hall's data: elapsed real
        # time, on the monotonic clock. One process holds the journal: its memory is the only holder.
        now = time.monotonic()
        if self._leases.get((hall, name), 0.0) > now:
            return False
        self._leases[(hall, name)] = now + seconds
        return True

    async def release_lease(self, hall: str, name: str) -> None:
        self._leases.pop((hall, name), None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=2)
        self._sync_dirty()
        with self._mutex:
            for log in self._halls.values():
                if log.file is not None:
                    log.file.close()
                    log.file = None
