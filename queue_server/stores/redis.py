"""RedisStore: several workers and machines serving one hall.

Per hall (keys share the ``{hall}`` hash tag, so a cluster keeps them together):

* ``hallq:{hall}:seq`` — the last ``seq``;
* ``hallq:{hall}:events`` — a Redis Stream whose entry ids are ``<seq>-0``, so
  "events after seq N" is one ``XRANGE`` and every reader sees the same order;
* ``hallq:{hall}:idem:<key>`` — the first answer to a keyed command with its hall-clock
  time ``at``. Whether it still answers a retry is decided on the hall's clock (the
  caller's ``now``, passed into every script: 24 h after ``at``); Redis's own ``EX``
  (twice that, on Redis's clock) only collects the garbage, so a hall clock that differs
  from Redis's (a test's manual clock) decides exactly as the embedded store does.

* ``hallq:{hall}:writer`` — who has the hall's turn (a lease of
  :data:`TURN_MS` ms), ``hallq:{hall}:waiting`` — writers waiting for it, and
  ``hallq:{hall}:turn:<writer>`` — where a waiting writer hears it was handed the turn.

Each append is one Lua script: check the idempotency key(s), compare the hall's seq
with the one the commands were decided on, and only then bump the seq, ``XADD`` the
events and record the keys — atomically. A worker whose view was stale gets
``conflict``, reads the missing events and decides again, so the calling policy
stays in Python, in one place, and a ticket is still called by exactly one window.

Group commit (:data:`BEGIN_SCRIPT`, :data:`COMMIT_SCRIPT`): a worker takes the
hall's turn and in the same round trip gets the last seq, the events it has not
applied yet and the records of the idempotency keys it brings; it decides every
command waiting in it, then appends the whole run of events with one
compare-and-set and hands the turn to the writer that has waited longest. Two round
trips per batch instead of one per command, and the workers of one hall take turns
instead of deciding on the same seq and throwing away each other's work. The turn
is only a lease: a writer that stalls past it loses it, and its commit then fails
the compare-and-set like any stale one.
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
from .base import IDEMPOTENCY_TTL_SECONDS, AppendOutcome, IdempotencyRecord, Turn

APPEND_SCRIPT = """
-- KEYS: 1 seq, 2 events stream, 3 idempotency key (a placeholder when the command has none)
-- ARGV: 1 expected last seq, 2 event json, 3 idempotency record json ('' for none), 4 ttl seconds,
--       5 the hall-clock now (seconds), 6 how long Redis keeps a record (seconds)
if ARGV[3] ~= '' then
  local prev = redis.call('GET', KEYS[3])
  if prev and tonumber(ARGV[5]) - (tonumber(cjson.decode(prev).at) or tonumber(ARGV[5])) <= tonumber(ARGV[4]) then
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
  redis.call('SET', KEYS[3], ARGV[3], 'EX', tonumber(ARGV[6]))
end
return {'ok', tostring(seq)}
"""


# Redis drops an idempotency record after this long on its own clock: garbage collection only,
# with room to spare, since whether a record still answers is decided on the hall's clock.
IDEMPOTENCY_KEEP_SECONDS = 2 * IDEMPOTENCY_TTL_SECONDS

# The hall's turn is a lease: a writer that dies with it (kill -9) holds up the
# others' commits for at most this long.
TURN_MS = 1000
# Events returned with a turn; a writer further behind reads the rest.
BEGIN_EVENTS = 1000

BEGIN_SCRIPT = """
-- KEYS: 1 seq, 2 events stream, 3 writer (turn), 4 waiting writers (zset), 5.. idempotency keys
-- ARGV: 1 writer id, 2 turn ms, 3 after seq, 4 max events, 5 the hall-clock now (s), 6 idempotency ttl (s)
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[1] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[4], 60000)
  return {'busy', redis.call('PTTL', KEYS[3])}
end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[1])
local cur = redis.call('GET', KEYS[1]) or '0'
local events = {}
if tonumber(cur) > tonumber(ARGV[3]) then
  local entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[3]) + 1) .. '-0', '+', 'COUNT', ARGV[4])
  for i, entry in ipairs(entries) do
    events[i] = entry[2][2]
  end
end
local records = {}
for i = 5, #KEYS do
  local rec = redis.call('GET', KEYS[i])
  if rec and tonumber(ARGV[5]) - (tonumber(cjson.decode(rec).at) or tonumber(ARGV[5])) > tonumber(ARGV[6]) then
    rec = nil  -- expired on the hall's clock
  end
  records[i - 4] = rec or ''
end
return {'ok', cur, events, records}
"""

# Hand the turn on: to the writer that asked longest ago (a waiter asks again at
# least once per turn's length, so one that has not for two has gone away), else free it.
_HAND_ON = """
if redis.call('GET', KEYS[3]) == ARGV[1] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 2 * tonumber(ARGV[2]))
  local next = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
  if next then
    redis.call('ZREM', KEYS[4], next)
    redis.call('SET', KEYS[3], next, 'PX', ARGV[2])
    local wake = ARGV[3] .. next
    redis.call('DEL', wake)
    redis.call('RPUSH', wake, '1')
    redis.call('PEXPIRE', wake, ARGV[2])
  else
    redis.call('DEL', KEYS[3])
  end
end
"""

COMMIT_SCRIPT = (
    """
-- KEYS: 1 seq, 2 events stream, 3 writer (turn), 4 waiting writers, 5.. idempotency keys
-- ARGV: 1 writer id, 2 turn ms, 3 wake-up key prefix, 4 expected last seq, 5 idempotency ttl s,
--       6 number of events n, 7 '1': only if no other writer has the turn,
--       8 .. 7+n event json, then one idempotency record json per key, then how long Redis keeps
--       a record (s). A key is used while its record is live at the new record's hall-clock ``at``.
if ARGV[7] == '1' then
  local holder = redis.call('GET', KEYS[3])
  if holder and holder ~= ARGV[1] then
    return {'busy', redis.call('GET', KEYS[1]) or '0'}
  end
end
local n = tonumber(ARGV[6])
for i = 5, #KEYS do
  local prev = redis.call('GET', KEYS[i])
  if prev then
    local now = tonumber(cjson.decode(ARGV[7 + n + i - 4]).at)
    if now - (tonumber(cjson.decode(prev).at) or now) <= tonumber(ARGV[5]) then
      return {'duplicate', redis.call('GET', KEYS[1]) or '0', prev}
    end
  end
end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur ~= tonumber(ARGV[4]) then
  return {'conflict', tostring(cur)}
end
for i = 1, n do
  cur = cur + 1
  redis.call('XADD', KEYS[2], cur .. '-0', 'e', ARGV[7 + i])
end
if n > 0 then
  redis.call('SET', KEYS[1], cur)
end
for i = 5, #KEYS do
  redis.call('SET', KEYS[i], ARGV[7 + n + i - 4], 'EX', tonumber(ARGV[#ARGV]))
end
"""
    + _HAND_ON
    + """
return {'ok', tostring(cur)}
"""
)

RELEASE_SCRIPT = (
    """
-- KEYS: 1 seq, 2 events stream, 3 writer (turn), 4 waiting writers; ARGV: 1 writer id, 2 turn ms, 3 wake-up prefix
redis.call('ZREM', KEYS[4], ARGV[1])
"""
    + _HAND_ON
    + """
return 1
"""
)


def _keys(hall: str) -> tuple[str, str]:
    return f"hallq:{{{hall}}}:seq", f"hallq:{{{hall}}}:events"


def _turn_keys(hall: str) -> tuple[str, str, str]:
    return f"hallq:{{{hall}}}:writer", f"hallq:{{{hall}}}:waiting", f"hallq:{{{hall}}}:turn:"


def _idem_key(hall: str, key: str | None) -> str:
    return f"hallq:{{{hall}}}:idem:{key if key is not None else '-'}"


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"Redis 不可用，请稍后重试 (Redis is unavailable: {exc})")


class RedisStore:
    shared = True  # several workers and machines write the same halls

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", **client_options: Any) -> None:
        options: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 10, "health_check_interval": 15}
        options |= client_options
        self.url = url
        self.redis: aioredis.Redis = aioredis.from_url(url, decode_responses=False, **options)
        self._append = self.redis.register_script(APPEND_SCRIPT)
        self._begin = self.redis.register_script(BEGIN_SCRIPT)
        self._commit = self.redis.register_script(COMMIT_SCRIPT)
        self._release = self.redis.register_script(RELEASE_SCRIPT)

    async def append(self, event: Event, key: str | None, record: IdempotencyRecord | None) -> AppendOutcome:
        seq_key, stream = _keys(event.hall)
        rec = json.dumps(asdict(record), ensure_ascii=False) if (key is not None and record is not None) else ""
        try:
            reply = await self._append(
                keys=[seq_key, stream, _idem_key(event.hall, key)],
                args=[
                    event.seq - 1,
                    event.to_json(),
                    rec,
                    IDEMPOTENCY_TTL_SECONDS,
                    record.at if record is not None else event.at,
                    IDEMPOTENCY_KEEP_SECONDS,
                ],
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        status = reply[0].decode()
        last = int(reply[1])
        if status == "duplicate":
            return AppendOutcome("duplicate", last, IdempotencyRecord.from_json(reply[2], event.at))
        if status == "conflict":
            return AppendOutcome("conflict", last)
        return AppendOutcome("ok", last)

    async def begin(self, hall: str, writer: str, after: int, keys: list[str], now: float) -> Turn:
        seq_key, stream = _keys(hall)
        turn_key, waiting, _ = _turn_keys(hall)
        try:
            reply: Any = await self._begin(
                keys=[seq_key, stream, turn_key, waiting, *(_idem_key(hall, k) for k in keys)],
                args=[writer, TURN_MS, after, BEGIN_EVENTS, now, IDEMPOTENCY_TTL_SECONDS],
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        if reply[0] == b"busy":
            return Turn(True, wait=max(int(reply[1]), 1) / 1000)
        records = {
            key: IdempotencyRecord.from_json(raw, now) for key, raw in zip(keys, reply[3], strict=True) if raw
        }
        return Turn(False, int(reply[1]), tuple(Event.from_json(raw) for raw in reply[2]), records)

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
        seq_key, stream = _keys(hall)
        turn_key, waiting, wake = _turn_keys(hall)
        args: list[Any] = [writer, TURN_MS, wake, after, IDEMPOTENCY_TTL_SECONDS, len(events), int(unless_busy)]
        args += [e.to_json() for e in events]
        args += [json.dumps(asdict(record), ensure_ascii=False) for _, record in keyed]
        args.append(IDEMPOTENCY_KEEP_SECONDS)
        try:
            reply = await self._commit(
                keys=[seq_key, stream, turn_key, waiting, *(_idem_key(hall, key) for key, _ in keyed)], args=args
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        status = reply[0].decode()
        last = int(reply[1])
        if status == "duplicate":
            first_at = keyed[0][1].at if keyed else 0.0
            return AppendOutcome("duplicate", last, IdempotencyRecord.from_json(reply[2], first_at))
        if status in ("conflict", "busy"):
            return AppendOutcome(status, last)
        return AppendOutcome("ok", last)

    async def release(self, hall: str, writer: str) -> None:
        seq_key, stream = _keys(hall)
        turn_key, waiting, wake = _turn_keys(hall)
        try:
            await self._release(keys=[seq_key, stream, turn_key, waiting], args=[writer, TURN_MS, wake])
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def wait_turn(self, hall: str, writer: str, timeout: float) -> None:
        """Block until the turn is handed to ``writer`` (BLPOP on its wake-up key) or ``timeout`` passes."""
        _, _, wake = _turn_keys(hall)
        try:
            await self.redis.blpop([wake + writer], timeout=max(0.001, min(timeout, 1.0)))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc

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

    async def idempotency(self, hall: str, key: str, now: float) -> IdempotencyRecord | None:
        try:
            value = await self.redis.get(_idem_key(hall, key))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc
        if not value:
            return None
        record = IdempotencyRecord.from_json(value, now)
        return record if record.live_at(now) else None

    async def put_document(self, hall: str, name: str, text: str) -> None:
        try:
            await self.redis.set(f"hallq:{{{hall}}}:doc:{name}", text.encode())
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def get_document(self, hall: str, name: str) -> str | None:
        try:
            value = await self.redis.get(f"hallq:{{{hall}}}:doc:{name}")
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def try_lease(self, hall: str, name: str, seconds: float) -> bool:
        try:  # one holder among every worker and machine; it expires if its holder dies
            return bool(await self.redis.set(f"hallq:{{{hall}}}:lease:{name}", b"1", nx=True, px=int(seconds * 1000)))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def release_lease(self, hall: str, name: str) -> None:
        try:
            await self.redis.delete(f"hallq:{{{hall}}}:lease:{name}")
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        await self.redis.aclose()
