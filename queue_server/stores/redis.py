"""RedisStore: several workers and machines serving one hall.

Per hall (keys share the ``{hall}`` hash tag, so a cluster keeps them together):

* ``hallq:{hall}:seq`` — the last ``seq``;
* ``hallq:{hall}:events`` — a Redis Stream whose entry ids are ``<seq>-0``, so
  "events after seq N" is one ``XRANGE`` and every reader sees the same order;
* ``hallq:{hall}:idem:<key>`` — the first answer to a keyed command, kept 24 h.

Each command is one Lua script (:data:`APPEND_SCRIPT`): check the idempotency key,
compare the hall's seq with the one the command was decided on, and only then
bump the seq, ``XADD`` the event and record the key — atomically. A worker whose
view was stale gets ``conflict``, reads the missing events and decides again, so
the calling policy stays in Python, in one place, and a ticket is still called
by exactly one window.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import StoreUnavailable
from ..model import Event
from .base import IDEMPOTENCY_TTL_SECONDS, AppendOutcome, IdempotencyRecord

APPEND_SCRIPT = """
-- KEYS: 1 seq, 2 events stream, 3 idempotency key (a placeholder when the command has none)
-- ARGV: 1 expected last seq, 2 event json, 3 idempotency record json ('' for none), 4 ttl seconds
if ARGV[3] ~= '' then
  local prev = redis.call('GET', KEYS[3])
  if prev then
    return {'duplicate', redis.call('GET', KEYS[1]) or '0', prev}
  end
end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur ~= tonumber(ARGV[1]) then
  return {'conflict', tostring(cur)}
end
local seq = cur + 1
redis.call('SET', KEYS[1], seq)
redis.call('XADD', KEYS[2], seq .. '-0', 'e', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[3], ARGV[3], 'EX', tonumber(ARGV[4]))
end
return {'ok', tostring(seq)}
"""


def _keys(hall: str) -> tuple[str, str]:
    return f"hallq:{{{hall}}}:seq", f"hallq:{{{hall}}}:events"


def _idem_key(hall: str, key: str | None) -> str:
    return f"hallq:{{{hall}}}:idem:{key if key is not None else '-'}"


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"Redis 不可用，请稍后重试 (Redis is unavailable: {exc})")


class RedisStore:
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", **client_options: Any) -> None:
        options: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 10, "health_check_interval": 15}
        options |= client_options
        self.url = url
        self.redis: aioredis.Redis = aioredis.from_url(url, decode_responses=False, **options)
        self._append = self.redis.register_script(APPEND_SCRIPT)

    async def append(self, event: Event, key: str | None, record: IdempotencyRecord | None) -> AppendOutcome:
        seq_key, stream = _keys(event.hall)
        rec = json.dumps(asdict(record), ensure_ascii=False) if (key is not None and record is not None) else ""
        try:
            reply = await self._append(
                keys=[seq_key, stream, _idem_key(event.hall, key)],
                args=[event.seq - 1, event.to_json(), rec, IDEMPOTENCY_TTL_SECONDS],
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        status = reply[0].decode()
        last = int(reply[1])
        if status == "duplicate":
            return AppendOutcome("duplicate", last, IdempotencyRecord(**json.loads(reply[2])))
        if status == "conflict":
            return AppendOutcome("conflict", last)
        return AppendOutcome("ok", last)

    async def read(self, hall: str, after: int, limit: int | None = None) -> list[Event]:
        if limit is not None and limit <= 0:
            return []
        _, stream = _keys(hall)
        try:
            entries: Any = await self.redis.xrange(stream, min=f"{after + 1}-0", max="+", count=limit)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        return [Event.from_json(fields[b"e"]) for _id, fields in entries]

    async def wait_for_events(self, hall: str, after: int, block_ms: int = 5000) -> list[Event]:
        """Block until events after ``after`` exist (XREAD BLOCK), for fan-out readers."""
        _, stream = _keys(hall)
        try:
            reply: Any = await self.redis.xread({stream: f"{after}-0"}, block=block_ms, count=500)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        return [Event.from_json(fields[b"e"]) for _stream, entries in reply or [] for _id, fields in entries]

    async def last_seq(self, hall: str) -> int:
        seq_key, _ = _keys(hall)
        try:
            value = await self.redis.get(seq_key)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        return int(value or 0)

    async def idempotency(self, hall: str, key: str) -> IdempotencyRecord | None:
        try:
            value = await self.redis.get(_idem_key(hall, key))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        return IdempotencyRecord(**json.loads(value)) if value else None

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        await self.redis.aclose()
