"""HallService: the one command path of a hall.

Every state change — from the HTTP API, a page, the kiosk, the rebalancer, the
demo driver — goes through :meth:`HallService.execute`:

1. if the caller gave an idempotency key that was already used, answer what the
   first request got (and refuse a different request under the same key);
2. :func:`~queue_server.commands.decide` checks the command against this
   process's view of the hall and yields one event (a refusal is re-checked
   against the store's latest ``seq``, so a stale view never refuses);
3. the store appends the event only if nobody appended since that view
   (compare-and-set on ``seq``); on a conflict the service reads the events it
   missed and decides again;
4. the event is applied to the local state and handed to the listeners (the
   WebSocket hub), in ``seq`` order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .clock import Clock, SystemClock
from .commands import Command, decide
from .config import Hall
from .errors import CommandRejected, HallqError
from .estimate import TwinWait
from .model import Event, HallState, apply_event
from .stores.base import IdempotencyRecord, Store

MAX_CONFLICT_RETRIES = 50
# After a lost compare-and-set, wait a random moment (doubling, up to this cap) before
# trying again, so many writers on one hall do not keep colliding in lock-step.
CONFLICT_BACKOFF_CAP_SECONDS = 0.05
Listener = Callable[[Event], None]


class HallService:
    def __init__(self, hall: Hall, store: Store, clock: Clock | None = None) -> None:
        self.hall = hall
        self.store = store
        self.clock = clock or SystemClock()
        self.state = HallState(hall.id)
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        # the live twin's wait per waiting ticket, when the server runs one for this hall
        self.twin_wait: TwinWait | None = None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event applied from now on; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def start(self) -> None:
        """Rebuild the state from the store's events."""
        await self.catch_up()

    async def catch_up(self) -> list[Event]:
        """Apply every stored event this process has not seen yet; returns them."""
        async with self._lock:
            return await self._catch_up()

    async def _catch_up(self) -> list[Event]:
        events = await self.store.read(self.hall.id, self.state.seq)
        for event in events:
            self._apply(event)
        return events

    async def ingest(self, events: list[Event]) -> None:
        """Apply events another process appended (read from the store's stream), in order."""
        async with self._lock:
            for event in events:
                if event.seq <= self.state.seq:
                    continue
                if event.seq != self.state.seq + 1:
                    await self._catch_up()  # a gap: read the store itself
                    break
                self._apply(event)

    def _apply(self, event: Event) -> None:
        apply_event(self.state, event)
        for listener in list(self._listeners):
            listener(event)

    def now_iso(self, now: float) -> str:
        return datetime.fromtimestamp(now, self.hall.tz).isoformat(timespec="milliseconds")

    async def execute(self, cmd: Command, actor: str, idempotency_key: str | None = None) -> dict[str, Any]:
        """Validate and apply ``cmd``; return its result with the event's ``seq``.

        Raises :class:`CommandRejected` (nothing stored) or ``StoreUnavailable``.
        """
        fingerprint = cmd.fingerprint()
        async with self._lock:
            for attempt in range(MAX_CONFLICT_RETRIES):
                if idempotency_key is not None:
                    prior = await self.store.idempotency(self.hall.id, idempotency_key)
                    if prior is not None:
                        return self._replay(prior, fingerprint)
                now = self.clock.now()
                try:
                    decision = decide(self.hall, self.state, cmd, now)
                except CommandRejected:
                    # Refuse only on a current view: with several workers, this one may not
                    # yet have applied an event another worker just stored (the ticket a kiosk
                    # issued there, a window opened there).
                    if await self.store.last_seq(self.hall.id) > self.state.seq:
                        await self._catch_up()
                        continue
                    raise
                event = Event(
                    seq=self.state.seq + 1,
                    hall=self.hall.id,
                    ts=self.now_iso(now),
                    actor=actor,
                    type=decision.type,
                    data=decision.data,
                )
                result = decision.result | {"seq": event.seq, "event": event.type}
                record = IdempotencyRecord(fingerprint, result, event.seq) if idempotency_key else None
                outcome = await self.store.append(event, idempotency_key, record)
                if outcome.status == "ok":
                    self._apply(event)
                    return result
                if outcome.status == "duplicate" and outcome.record is not None:
                    await self._catch_up()
                    return self._replay(outcome.record, fingerprint)
                # another process got there first: back off a little, then look again
                await asyncio.sleep(random.uniform(0, min(CONFLICT_BACKOFF_CAP_SECONDS, 0.001 * 2**attempt)))
                await self._catch_up()
        raise HallqError(f"hall {self.hall.id}: gave up after {MAX_CONFLICT_RETRIES} conflicting attempts")

    @staticmethod
    def _replay(prior: IdempotencyRecord, fingerprint: str) -> dict[str, Any]:
        if prior.fingerprint != fingerprint:
            raise CommandRejected(
                "idempotency_key_reused",
                "该 Idempotency-Key 已用于另一个请求 (this Idempotency-Key was used for a different request)",
                "Idempotency-Key",
                422,
            )
        return prior.result | {"replayed": True}
