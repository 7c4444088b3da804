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
from datetime import datetime
from typing import Any

from .clock import Clock
from .config import Deployment
from .errors import StoreUnavailable
from .model import Event

AUDIT_LOG = "_audit"
APPEND_TRIES = 50  # a conflict means another worker appended first: take the next seq


class AuditLog:
    def __init__(self, store: Any, deployment: Deployment, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.tz = deployment.halls[0].tz  # entries read in the (first) hall's local time

    async def record(self, actor: str, kind: str, data: dict[str, Any]) -> Event:
        """Append one entry; retried on a compare-and-set conflict (another worker's entry)."""
        for _ in range(APPEND_TRIES):
            last = await self.store.last_seq(AUDIT_LOG)
            ts = datetime.fromtimestamp(self.clock.now(), self.tz).isoformat(timespec="milliseconds")
            event = Event(last + 1, AUDIT_LOG, ts, actor, kind, data)
            outcome = await self.store.append(event, None, None)
            if outcome.status == "ok":
                return event
            await asyncio.sleep(0)
        raise StoreUnavailable("审计日志写入冲突过多，请稍后重试 (the audit log is too busy; retry)")

    async def read(self, after: int, limit: int, hall: str | None = None) -> list[Event]:
        """Entries after ``after`` (at most ``limit`` read); with ``hall``, only those about that hall."""
        events: list[Event] = await self.store.read(AUDIT_LOG, after, limit)
        return [e for e in events if hall is None or e.data.get("hall") == hall]
