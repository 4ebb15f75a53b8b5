"""The Redis mirror of chat state that the hot path reads: sanctions, room settings, recent messages.

PostgreSQL is the record; Redis holds a copy per event, marked warm by a flag key. A cold
event is reloaded from PostgreSQL under a version check, so a moderation action committed
during the reload is never overwritten by the older snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from server.ratelimit import TAKE_BUCKETS_LUA, RateLimit
from server.redisbatch import BatchedScript

MIRROR_TTL_MS = 6 * 3600 * 1000
VERSION_TTL_S = 7 * 24 * 3600
RECENT_MAX = 200  # the history shown on join is the last 50; the rest absorbs deletions

# Admit one message: every check and the append to the recent list in one atomic round trip;
# the per-user bucket is the shared limiter's (server.ratelimit), embedded here.
# KEYS: warm, bans, timeouts, room, slow-last, bucket, recent.
# ARGV: user, now (s), exempt from slow mode (0/1), bucket capacity, refill/s, recent max,
#       message json, mirror ttl ms.
# Returns {outcome, detail}: ok | cold | banned | timed_out (until, s) | slow_mode (wait ms)
# | rate_limited (wait ms).
_ADMIT = (
    TAKE_BUCKETS_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'cold', '0'} end
local user = ARGV[1]; local now = tonumber(ARGV[2])
if redis.call('SISMEMBER', KEYS[2], user) == 1 then return {'banned', '0'} end
local untl = redis.call('HGET', KEYS[3], user) or '0'
-- The stored text itself: Lua's tostring keeps only 14 digits and would shift the time.
if tonumber(untl) > now then return {'timed_out', untl} end
local slow = 0
if ARGV[3] == '0' then
  slow = tonumber(redis.call('HGET', KEYS[4], 'slow') or '0')
  if slow > 0 then
    local last = tonumber(redis.call('GET', KEYS[5]) or '-1e18')
    if now - last < slow then
      return {'slow_mode', tostring(math.ceil((slow - (now - last)) * 1000))}
    end
  end
end
local allowed, wait = take_buckets(KEYS, 6, 1, ARGV, 4, now, 1)
if allowed == 0 then return {'rate_limited', tostring(wait)} end
if slow > 0 then redis.call('SET', KEYS[5], ARGV[2], 'PX', math.ceil(slow * 1000) + 1000) end
redis.call('RPUSH', KEYS[7], ARGV[7])
redis.call('LTRIM', KEYS[7], -tonumber(ARGV[6]), -1)
redis.call('PEXPIRE', KEYS[7], ARGV[8])
return {'ok', '0'}
"""
)

# What a joining client needs. KEYS: warm, bans, timeouts, room, recent. ARGV: user, history.
# Returns {'cold'} or {'ok', banned, timeout until, slow, pinned json, message json...}.
_JOIN_STATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'cold'} end
local out = {'ok', tostring(redis.call('SISMEMBER', KEYS[2], ARGV[1])),
             redis.call('HGET', KEYS[3], ARGV[1]) or '0',
             redis.call('HGET', KEYS[4], 'slow') or '0',
             redis.call('HGET', KEYS[4], 'pinned') or ''}
local recent = redis.call('LRANGE', KEYS[5], -tonumber(ARGV[2]), -1)
for i = 1, #recent do out[#out + 1] = recent[i] end
return out
"""

# Rebuild an event's mirror from a PostgreSQL snapshot unless a moderation action bumped the
# version since the snapshot was read. KEYS: warm, bans, timeouts, room, recent, version.
# ARGV: expected version, ttl ms, slow, pinned json, n bans, bans..., n timeouts,
#       (user, until)..., recent json... (only used when the recent list is gone).
_LOAD = """
if (redis.call('GET', KEYS[6]) or '0') ~= ARGV[1] then return 0 end
local ttl = ARGV[2]
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[4], 'slow', ARGV[3], 'pinned', ARGV[4])
local i = 5
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('SADD', KEYS[2], ARGV[i]); i = i + 1 end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]); i = i + 2 end
if redis.call('EXISTS', KEYS[5]) == 0 then
  for j = i, #ARGV do redis.call('RPUSH', KEYS[5], ARGV[j]) end
end
for k = 2, 5 do redis.call('PEXPIRE', KEYS[k], ttl) end
redis.call('SET', KEYS[1], '1', 'PX', ttl)
return 1
"""

# Remove (or with ARGV[2] == '0' only find) a message in the recent list by id; returns it.
# Messages are JSON objects that start with their id, so a prefix match needs no decoding.
_TAKE_RECENT = """
local prefix = '{"id":"' .. ARGV[1] .. '"'
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #items, 1, -1 do
  if string.sub(items[i], 1, #prefix) == prefix then
    if ARGV[2] == '1' then redis.call('LREM', KEYS[1], 1, items[i]) end
    return items[i]
  end
end
return false
"""


@dataclass(frozen=True)
class JoinState:
    """The mirror's view of one event for one user."""

    banned: bool
    timed_out_until: float
    slow_mode: int
    pinned_json: str | None
    recent_json: list[str]


def _key(event_id: uuid.UUID, part: str) -> str:
    return f"chat:ev:{event_id}:{part}"


def _state_keys(event_id: uuid.UUID) -> list[str]:
    """The mirror's keys a join reads and a load writes: warm, bans, timeouts, room, recent."""
    return [_key(event_id, part) for part in ("warm", "bans", "timeouts", "room", "recent")]


_ADMIT_SCRIPT = BatchedScript(_ADMIT)
_JOIN_SCRIPT = BatchedScript(_JOIN_STATE)
_LOAD_SCRIPT = BatchedScript(_LOAD)
_TAKE_SCRIPT = BatchedScript(_TAKE_RECENT)


class ChatCache:
    """Typed access to the mirror; every method is one Redis round trip, and the scripts of
    concurrent callers (the join storm at show start, a busy room's messages) share theirs."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def admit(
        self,
        event_id: uuid.UUID,
        user_id: uuid.UUID,
        now: float,
        exempt: bool,
        limit: RateLimit,
        message_json: str,
    ) -> tuple[str, float]:
        """Check ban, timeout, slow mode and the user's `limit`; on success keep the message."""
        outcome, detail = await _ADMIT_SCRIPT(
            self._redis,
            [
                _key(event_id, "warm"),
                _key(event_id, "bans"),
                _key(event_id, "timeouts"),
                _key(event_id, "room"),
                _key(event_id, f"slow:{user_id}"),
                limit.key(str(user_id)),
                _key(event_id, "recent"),
            ],
            [
                str(user_id),
                repr(now),
                "1" if exempt else "0",
                *limit.args(),
                RECENT_MAX,
                message_json,
                MIRROR_TTL_MS,
            ],
        )
        return str(outcome), float(detail)

    async def join_state(
        self, event_id: uuid.UUID, user_id: uuid.UUID, history: int
    ) -> JoinState | None:
        """The user's standing and the room's state, or None when the event is cold."""
        out = await _JOIN_SCRIPT(self._redis, _state_keys(event_id), [str(user_id), history])
        if out[0] != "ok":
            return None
        return JoinState(
            banned=out[1] == "1",
            timed_out_until=float(out[2]),
            slow_mode=int(float(out[3])),
            pinned_json=out[4] or None,
            recent_json=list(out[5:]),
        )

    async def version(self, event_id: uuid.UUID) -> str:
        """The event's moderation version, read before a snapshot is taken."""
        value = await self._redis.get(_key(event_id, "ver"))
        return str(value) if value is not None else "0"

    async def load(
        self,
        event_id: uuid.UUID,
        version: str,
        *,
        bans: Sequence[uuid.UUID],
        timeouts: Sequence[tuple[uuid.UUID, float]],
        slow_mode: int,
        pinned_json: str | None,
        recent_json: Sequence[str],
    ) -> bool:
        """Install a snapshot; False when the version moved (the caller re-reads and retries)."""
        args: list[str | int] = [version, MIRROR_TTL_MS, slow_mode, pinned_json or "", len(bans)]
        args += [str(b) for b in bans]
        args.append(len(timeouts))
        for user, until in timeouts:
            args += [str(user), repr(until)]
        args += list(recent_json)
        done = await _LOAD_SCRIPT(
            self._redis, [*_state_keys(event_id), _key(event_id, "ver")], args
        )
        return bool(done)

    async def _apply(self, event_id: uuid.UUID, *commands: tuple[str, ...]) -> None:
        # Bumping the version first makes any reload that read PostgreSQL earlier start over.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(_key(event_id, "ver"))
            pipe.expire(_key(event_id, "ver"), VERSION_TTL_S)
            for command in commands:
                pipe.execute_command(*command)
            await pipe.execute()

    async def ban(self, event_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Mirror a ban."""
        await self._apply(event_id, ("SADD", _key(event_id, "bans"), str(user_id)))

    async def unban(self, event_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Mirror a lifted ban."""
        await self._apply(event_id, ("SREM", _key(event_id, "bans"), str(user_id)))

    async def timeout(self, event_id: uuid.UUID, user_id: uuid.UUID, until: float) -> None:
        """Mirror a timeout (epoch seconds)."""
        await self._apply(event_id, ("HSET", _key(event_id, "timeouts"), str(user_id), repr(until)))

    async def slow_mode(self, event_id: uuid.UUID, seconds: int) -> None:
        """Mirror the room's slow mode."""
        await self._apply(event_id, ("HSET", _key(event_id, "room"), "slow", str(seconds)))

    async def pin(self, event_id: uuid.UUID, message_json: str | None) -> None:
        """Mirror the pinned message (None unpins)."""
        await self._apply(event_id, ("HSET", _key(event_id, "room"), "pinned", message_json or ""))

    async def take_recent(
        self, event_id: uuid.UUID, message_id: uuid.UUID, remove: bool
    ) -> str | None:
        """The recent message with this id (removed from history when `remove`), or None."""
        found = await _TAKE_SCRIPT(
            self._redis, [_key(event_id, "recent")], [str(message_id), "1" if remove else "0"]
        )
        return None if found is None else str(found)
