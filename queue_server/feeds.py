"""Live feeds: every applied event pushed to the WebSocket clients that should see it.

Delivery is at-least-once with replay by ``seq``: a client connects with
``?after=<seq>`` (the last ``seq`` it saw); the hub replays exactly the events it
missed that its feed shows, or sends a fresh snapshot when it is too far behind or
new, then streams live events. Each message carries the hall's ``seq``.

Each connection has its own bounded queue and sender task, so a slow or stuck
client never delays another: when its queue overflows, its backlog is dropped and
it gets one fresh snapshot instead. A message is serialised once per feed variant
and the same bytes go to every client of that variant.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from .config import Hall
from .console import desk
from .estimate import TwinWait, category_estimate
from .hall import HallService
from .model import Event, HallState
from .views import estimate_fields, event_zone, hall_snapshot, public_event, ticket_status, tickets_left

QUEUE_SIZE = 256
HEARTBEAT_SECONDS = 15.0
MAX_REPLAY = 2000


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def queues(
    hall: Hall,
    state: HallState,
    now: float,
    zone: str | None = None,
    only: set[str] | None = None,
    twin: TwinWait | None = None,
) -> list[dict]:
    """Per category: waiting count, estimated wait for a ticket taken now (with its range and
    words, from ``twin`` when fresh) and today's tickets left (what boards, kiosks and consoles
    keep showing)."""
    rows = []
    for cat in hall.categories:
        if (zone and cat.zone != zone) or (only is not None and cat.id not in only):
            continue
        waiting, est = category_estimate(hall, state, cat.id, now, twin)
        left = tickets_left(hall, state, cat.id, now)
        rows.append({"category": cat.id, "waiting": waiting, **estimate_fields(est), "tickets_left": left})
    return rows


class Feed(Protocol):
    """One kind of live view. ``key`` identifies identical views so their messages are built once."""

    key: str

    def render(self, event: Event) -> dict[str, Any] | None: ...

    def snapshot(self) -> dict[str, Any]: ...


class _Base:
    def __init__(self, service: HallService) -> None:
        self.service = service
        self.hall = service.hall

    @property
    def state(self) -> HallState:
        return self.service.state

    def now(self) -> float:
        return self.service.clock.now()


class HallFeed(_Base):
    """The hall board (综合屏): public calls and queues, optionally for one zone."""

    def __init__(self, service: HallService, zone: str | None = None) -> None:
        super().__init__(service)
        self.zone = zone
        self.key = f"hall:{zone or '*'}"

    def render(self, event: Event) -> dict[str, Any] | None:
        pub = public_event(self.hall, event)
        if pub is None or (self.zone and self.zone not in event_zone(self.hall, event)):
            return None
        rows = queues(self.hall, self.state, self.now(), self.zone, twin=self.service.twin_wait)
        return {"type": "event", "seq": event.seq, "event": pub, "queues": rows}

    def snapshot(self) -> dict[str, Any]:
        snap = hall_snapshot(self.hall, self.state, self.now(), zone=self.zone, twin=self.service.twin_wait)
        return {"type": "snapshot", "seq": self.state.seq, "snapshot": snap}


class WindowFeed(_Base):
    """A window's own screen (窗口屏): its current number and state."""

    def __init__(self, service: HallService, window: int) -> None:
        super().__init__(service)
        self.window = window
        self.key = f"window:{window}"

    def _concerns(self, event: Event) -> bool:
        d = event.data
        return self.window in (d.get("window"), d.get("to_window"), d.get("from_window"))

    def render(self, event: Event) -> dict[str, Any] | None:
        pub = public_event(self.hall, event)
        if pub is None or not self._concerns(event):
            return None
        return {"type": "event", "seq": event.seq, "event": pub, "window": self._window()}

    def _window(self) -> dict[str, Any]:
        snap = hall_snapshot(self.hall, self.state, self.now())
        return next(w for w in snap["windows"] if w["number"] == self.window)

    def snapshot(self) -> dict[str, Any]:
        return {"type": "snapshot", "seq": self.state.seq, "window": self._window()}


class TicketFeed(_Base):
    """A citizen's tracker: the ticket's status whenever its queue moves."""

    def __init__(self, service: HallService, ticket: str) -> None:
        super().__init__(service)
        self.ticket = ticket
        self.key = f"ticket:{ticket}"

    def render(self, event: Event) -> dict[str, Any] | None:
        t = self.state.tickets.get(self.ticket)
        if t is None:
            return None
        d = event.data
        mine = d.get("ticket") == self.ticket or self.ticket in (*d.get("expired", ()), *d.get("tickets", ()))
        if not mine and t.state != "waiting":
            return None
        unrelated = t.category not in (d.get("category"), d.get("to_category"))
        if not mine and unrelated and not event.type.startswith("window."):
            return None
        return {
            "type": "status",
            "seq": event.seq,
            "status": ticket_status(self.hall, self.state, t, self.now(), self.service.twin_wait),
        }

    def snapshot(self) -> dict[str, Any]:
        t = self.state.tickets.get(self.ticket)
        status = ticket_status(self.hall, self.state, t, self.now(), self.service.twin_wait) if t is not None else None
        return {"type": "snapshot", "seq": self.state.seq, "status": status}


class ConsoleFeed(_Base):
    """A clerk's console: the window's full events (with the policy's reason) and its queues."""

    def __init__(self, service: HallService, window: int) -> None:
        super().__init__(service)
        self.window = window
        self.key = f"console:{window}"

    def _categories(self) -> set[str]:
        live = self.state.windows.get(self.window)
        return set(live.categories) if live else set(self.hall.window_categories(self.window))

    def render(self, event: Event) -> dict[str, Any] | None:
        d = event.data
        mine = self.window in (d.get("window"), d.get("to_window"), d.get("from_window"))
        cats = self._categories()
        if not mine and d.get("category") not in cats and d.get("to_category") not in cats:
            return None
        return {
            "type": "event",
            "seq": event.seq,
            "event": event.as_dict(),
            "queues": queues(self.hall, self.state, self.now(), only=cats, twin=self.service.twin_wait),
            "desk": desk(self.hall, self.state, self.window, self.now()),
        }

    def snapshot(self) -> dict[str, Any]:
        snap = hall_snapshot(self.hall, self.state, self.now(), manager=True, twin=self.service.twin_wait)
        window = next(w for w in snap["windows"] if w["number"] == self.window)
        return {
            "type": "snapshot",
            "seq": self.state.seq,
            "window": window,
            "queues": queues(self.hall, self.state, self.now(), only=self._categories(), twin=self.service.twin_wait),
            "desk": desk(self.hall, self.state, self.window, self.now()),
        }


class ManagerFeed(_Base):
    """The manager dashboard: every event in full and the whole hall."""

    key = "manager"

    def render(self, event: Event) -> dict[str, Any] | None:
        rows = queues(self.hall, self.state, self.now(), twin=self.service.twin_wait)
        return {"type": "event", "seq": event.seq, "event": event.as_dict(), "queues": rows}

    def snapshot(self) -> dict[str, Any]:
        snap = hall_snapshot(self.hall, self.state, self.now(), manager=True, twin=self.service.twin_wait)
        return {"type": "snapshot", "seq": self.state.seq, "snapshot": snap}


_SNAPSHOT = object()  # queue marker: the backlog was dropped, send a fresh snapshot
_PING = object()  # queue marker: nothing was sent for a while, send a heartbeat


class Connection:
    """One WebSocket client: a bounded queue and the task that drains it."""

    def __init__(self, feed: Feed, send: Callable[[str], Any], maxsize: int = QUEUE_SIZE) -> None:
        self.feed = feed
        self._send = send
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self.overflows = 0
        self.busy = False  # sent something since the hub's last heartbeat round

    def offer(self, seq: int, payload: str) -> None:
        try:
            self.queue.put_nowait((seq, payload))
        except asyncio.QueueFull:
            self.overflows += 1
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_SNAPSHOT)

    def heartbeat(self) -> None:
        """Called by the hub twice per ``HEARTBEAT_SECONDS``: ping a client that got nothing since the last round."""
        if not self.busy and self.queue.empty():
            self.queue.put_nowait(_PING)
        self.busy = False

    async def run(self, first: list[str]) -> None:
        """Send ``first`` (replay or snapshot), then live messages and heartbeats until cancelled.

        The queue is awaited without a timeout (a timeout per message costs a task per
        message per client); the hub's one heartbeat task puts a ping in idle queues.
        """
        for payload in first:
            await self._send(payload)
        snapshot_seq = 0  # events up to here are already in the last snapshot sent
        while True:
            item = await self.queue.get()
            self.busy = True
            if item is _PING:
                state = getattr(self.feed, "state", None)
                await self._send(dumps({"type": "ping", "seq": state.seq if state else 0}))
                continue
            if item is _SNAPSHOT:
                snapshot = self.feed.snapshot()
                snapshot_seq = int(snapshot["seq"])
                await self._send(dumps(snapshot))
                continue
            assert isinstance(item, tuple)
            if item[0] > snapshot_seq:
                await self._send(item[1])


class Hub:
    """The connections of one hall; subscribed to its service's applied events."""

    def __init__(self, service: HallService) -> None:
        self.service = service
        self.connections: set[Connection] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        service.subscribe(self.publish)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS / 2)  # so an idle client hears something every 7.5–15 s
            for conn in list(self.connections):
                conn.heartbeat()

    def publish(self, event: Event) -> None:
        rendered: dict[str, str | None] = {}
        for conn in list(self.connections):
            key = conn.feed.key
            if key not in rendered:
                message = conn.feed.render(event)
                rendered[key] = dumps(message) if message is not None else None
            payload = rendered[key]
            if payload is not None:
                conn.offer(event.seq, payload)

    async def serve(self, feed: Feed, send: Callable[[str], Any], after: int | None) -> None:
        """Run one client until it goes away; the caller cancels or the send fails."""
        conn = Connection(feed, send)
        # Registering and fixing seq0 happen without an await in between: every event
        # after seq0 reaches the queue, every event up to seq0 comes from the replay.
        seq0 = self.service.state.seq
        self.connections.add(conn)
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat())
        try:
            first = await self._catch_up_messages(feed, after, seq0)
            await conn.run(first)
        finally:
            self.connections.discard(conn)

    async def _catch_up_messages(self, feed: Feed, after: int | None, seq0: int) -> list[str]:
        if after is None or after < 0 or after > seq0 or seq0 - after > MAX_REPLAY or isinstance(feed, TicketFeed):
            return [dumps(feed.snapshot())]
        events = await self.service.store.read(self.service.hall.id, after, seq0 - after) if seq0 > after else []
        out = []
        for event in events:
            message = feed.render(event)
            if message is not None:
                message["replay"] = True
                out.append(dumps(message))
        # the replayed events are rendered against today's state; a final sync carries the truth
        out.append(dumps({"type": "sync", "seq": seq0}))
        return out

    async def close(self) -> None:
        self.connections.clear()
        if self._heartbeat is not None:
            await cancel_quietly(self._heartbeat)
            self._heartbeat = None


async def cancel_quietly(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
