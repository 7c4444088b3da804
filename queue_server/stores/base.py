"""The store contract: an append-only, per-hall event log with compare-and-set.

Both stores keep exactly three things per hall: the events (``seq`` 1, 2, 3 …),
the last ``seq``, and idempotency records. :meth:`Store.append` adds one event
only if the hall's last ``seq`` is still ``event.seq - 1`` and the idempotency key
(if any) is unused — atomically, so two processes can never both call the same
ticket: one wins, the other re-reads and decides again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..model import Event

IDEMPOTENCY_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a keyed command answered the first time, and which request it was."""

    fingerprint: str
    result: dict[str, Any]
    seq: int


@dataclass(frozen=True, slots=True)
class AppendOutcome:
    status: Literal["ok", "conflict", "duplicate"]
    last_seq: int
    record: IdempotencyRecord | None = None


class Store(Protocol):
    async def append(self, event: Event, key: str | None, record: IdempotencyRecord | None) -> AppendOutcome:
        """Append ``event`` if ``event.seq`` follows the hall's last seq and ``key`` is unused."""
        ...

    async def read(self, hall: str, after: int, limit: int | None = None) -> list[Event]:
        """Events of ``hall`` with ``seq > after``, in order."""
        ...

    async def last_seq(self, hall: str) -> int: ...

    async def idempotency(self, hall: str, key: str) -> IdempotencyRecord | None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot serve."""
        ...

    async def close(self) -> None: ...
