"""Everything that ages reads the hall's clock: rate-limit windows and session expiry.

The hall here runs on a manual clock set to 2026-11-23, whatever today's date on the
machine is; a second clock read inside a part (the machine's ``time.time()``) would make
these windows and sessions expire at once or never (the date bomb of issue 12).
"""

from __future__ import annotations

import asyncio

from queue_server.auth import Authority
from queue_server.clock import ManualClock
from queue_server.config import load_config
from queue_server.ratelimit import MemoryRateLimiter, RedisRateLimiter
from queue_server.stores.redis import RedisStore
from tests.conftest import MONDAY_9AM, ROOT


def test_rate_limit_windows_count_the_halls_minutes(redis_url: str) -> None:
    async def scenario() -> None:
        store = RedisStore(redis_url)
        try:
            for make in (MemoryRateLimiter, lambda c: RedisRateLimiter(store.redis, clock=c)):
                clock = ManualClock(MONDAY_9AM)
                limiter = make(clock)
                assert [await limiter.allow("kiosk:k1", 2, 60) for _ in range(3)] == [True, True, False]
                clock.advance(59)  # still inside the hall's minute: still refused
                assert not await limiter.allow("kiosk:k1", 2, 60)
                clock.advance(2)  # the hall's minute has passed: allowed again
                assert await limiter.allow("kiosk:k1", 2, 60)
                await store.redis.flushdb()
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_session_expires_when_the_halls_clock_says_so() -> None:
    deployment = load_config(ROOT / "config.yaml")
    clock = ManualClock(MONDAY_9AM)
    authority = Authority(deployment, b"s" * 32, clock)
    issued = authority.login("admin", "hallq-demo", None)
    assert issued is not None
    token, principal = issued
    assert authority.principal(token) == principal  # valid on the hall's 2026-11-23, whatever today is
    clock.advance(authority.session_seconds - 5)
    assert authority.principal(token) == principal  # from the cache of verified tokens, too
    clock.advance(10)
    assert authority.principal(token) is None  # past session_minutes on the hall's clock
    # a fresh authority (another worker) agrees: the signed time is the hall's, not the machine's
    assert Authority(deployment, b"s" * 32, clock).principal(token) is None
    clock.set(MONDAY_9AM + 60)
    assert Authority(deployment, b"s" * 32, clock).principal(token) == principal
