"""The audit log (等保): every login, successful or not, and every change a manager asks for.

It is an event log of its own in the deployment's store, named :data:`AUDIT_LOG` (``_audit``:
no hall can have that id, hall ids start with a letter or digit). So it is exactly as durable
as the halls' logs — journalled by the embedded store (``<data_dir>/_audit.journal``), in Redis
with several workers and machines — survives restarts, and reaches no feed: no hall service,
hub or board follows it, and the halls' own event logs (``GET …/events``) never hold it.
Managers read it at ``GET /api/v1/audit`` (a hall's manager: the entries of that hall).

An entry is an :class:`~queue_server.model.Event`: ``actor`` is who (``manager:admin``, or
``user:<name>`` for a login attempt that proved nothing), ``type`` is ``auth.login``,
``auth.login_failed``, ``auth.login_locked`` or ``manager.request``, and ``data`` holds the
address, the hall and, for a manager's request, the method, path and status of the answer.
Passwords are never in it.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import Any

from .clock import Clock
from .config import Deployment
from .errors import StoreUnavailable
from .model import Event

AUDIT_LOG = "_audit"
APPEND_TRIES = 100


class AuditLog:
    """The audit log of one worker process.

    Appends are a compare-and-set on the log's ``seq``, like a hall's commands. Within a
    worker they go one at a time (a lock), so only another *worker's* entry can come
    between: then the conflict's answer names the new last ``seq`` and the entry takes the
    next one, after a short random wait once conflicts repeat (two workers under load).
    """

    def __init__(self, store: Any, deployment: Deployment, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.tz = deployment.halls[0].tz  # entries read in the (first) hall's local time
        self._lock = asyncio.Lock()
        self._last: int | None = None  # the log's last seq as this worker last saw it

    async def record(self, actor: str, kind: str, data: dict[str, Any]) -> Event:
        """Append one entry; it is stored when this returns."""
        async with self._lock:
            last = self._last if self._last is not None else await self.store.last_seq(AUDIT_LOG)
            for attempt in range(APPEND_TRIES):
                ts = datetime.fromtimestamp(self.clock.now(), self.tz).isoformat(timespec="milliseconds")
                event = Event(last + 1, AUDIT_LOG, ts, actor, kind, data)
                outcome = await self.store.append(event, None, None)
                if outcome.status == "ok":
                    self._last = event.seq
                    return event
                last = outcome.last_seq
                if attempt >= 2:
                    await asyncio.sleep(random.uniform(0, 0.002 * attempt))
            self._last = None
        raise StoreUnavailable("审计日志写入冲突过多，请稍后重试 (the audit log is too busy; retry)")

    async def read(self, after: int, limit: int, hall: str | None = None) -> list[Event]:
        """Entries after ``after`` (at most ``limit`` read); with ``hall``, only those about that hall."""
        events: list[Event] = await self.store.read(AUDIT_LOG, after, limit)
        return [e for e in events if hall is None or e.data.get("hall") == hall]
