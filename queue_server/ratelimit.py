"""Sliding-window rate limits on ticket issue: per kiosk, per phone (keyed hash), per address.

With the embedded store one process serves the hall, so the counters live in its
memory. With Redis several workers (and machines) serve one hall: the counters then
live in Redis too, updated by one Lua script, so a limit holds for the hall as a
whole — a kiosk allowed 120 tickets a minute gets 120, not 120 per worker — and it
survives a worker's restart. Keys never hold personal data (phones are keyed hashes).

Both measure their windows on the deployment's clock (the :class:`~queue_server.clock.Clock`
its halls run on), so "120 a minute" and "20 a day" count the hall's minutes and days, in
every worker alike (their system clocks are NTP-synchronised; a skew shifts a window only).
"""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .clock import Clock, SystemClock
from .errors import StoreUnavailable


class RateLimiter(Protocol):
    async def allow(self, key: str, limit: int, window_seconds: float) -> bool:
        """Count one hit on ``key``; False (and not counted) when ``limit`` hits fall within the window."""
        ...

    async def hits(self, key: str, window_seconds: float) -> int:
        """How many hits on ``key`` fall within the window (counts nothing)."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Counters in this process (the embedded store: one process serves the hall)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._clock = clock or SystemClock()

    async def allow(self, key: str, limit: int, window_seconds: float) -> bool:
        now = self._clock.now()
        hits = self._recent(key, now, window_seconds)
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    async def hits(self, key: str, window_seconds: float) -> int:
        return len(self._recent(key, self._clock.now(), window_seconds))

    def _recent(self, key: str, now: float, window_seconds: float) -> deque[float]:
        hits = self._hits[key]
        while hits and now - hits[0] >= window_seconds:
            hits.popleft()
        return hits

    async def close(self) -> None:
        self._hits.clear()


# KEYS[1] the window's sorted set; ARGV: now (ms), window (ms), limit, a unique member
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


# KEYS[1] the window's sorted set; ARGV: now (ms), window (ms)
_COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""


class RedisRateLimiter:
    """Counters shared by every worker of the deployment, in the deployment's Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str = "hallq:rate:", clock: Clock | None = None) -> None:
        self.redis = client  # the store's client: one pool, healed by the same health checks after an outage
        self._script = self.redis.register_script(_SLIDING_WINDOW)
        self._count = self.redis.register_script(_COUNT)
        self.prefix = prefix
        self._clock = clock or SystemClock()

    async def allow(self, key: str, limit: int, window_seconds: float) -> bool:
        return bool(await self._call(self._script, key, window_seconds, limit, uuid.uuid4().hex))

    async def hits(self, key: str, window_seconds: float) -> int:
        return int(await self._call(self._count, key, window_seconds))

    async def _call(self, script: Any, key: str, window_seconds: float, *more: Any) -> Any:
        now_ms = int(self._clock.now() * 1000)
        try:
            return await script(keys=[self.prefix + key], args=[now_ms, int(window_seconds * 1000), *more])
        except RedisError as exc:
            raise StoreUnavailable(f"Redis 不可用，请稍后重试 (Redis is unavailable: {exc})") from exc

    async def close(self) -> None:
        """The client belongs to the store, which closes it."""


def open_rate_limiter(store: Any, clock: Clock | None = None) -> RateLimiter:
    """Shared counters when the hall's store is Redis, this process's memory otherwise; windows on ``clock``."""
    from .stores.redis import RedisStore

    if isinstance(store, RedisStore):
        return RedisRateLimiter(store.redis, clock=clock)
    return MemoryRateLimiter(clock)
