"""The one rate limiter of every package: named token buckets in Redis, and failure counters.

A `RateLimit` names a bucket family and its numbers (configuration decides them); a
`RateLimiter` spends from one or several named buckets in a single atomic round trip, all or
nothing, so a refusal by any bucket spends from none. Scripts that must decide more than a
rate limit in the same round trip (chat's message admission) embed `TAKE_BUCKETS_LUA` rather
than copying the arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from server.redisbatch import BatchedScript

# A Lua function: take_buckets(keys, first, n, args, at, now, cost) checks the n bucket keys
# keys[first..first+n-1], whose (capacity, refill per second) pairs start at args[at], and
# spends `cost` from each only if all have it. Returns allowed (0/1), retry_after_ms.
TAKE_BUCKETS_LUA = """
local function take_buckets(keys, first, n, args, at, now, cost)
  local tokens = {}; local wait = 0
  for i = 0, n - 1 do
    local cap = tonumber(args[at + 2 * i]); local rate = tonumber(args[at + 2 * i + 1])
    local b = redis.call('HMGET', keys[first + i], 't', 'ts')
    local t = tonumber(b[1]); local ts = tonumber(b[2])
    if t == nil then t = cap; ts = now end
    t = math.min(cap, t + math.max(0, now - ts) * rate)
    tokens[i] = t
    if t < cost then wait = math.max(wait, math.ceil((cost - t) / rate * 1000)) end
  end
  local allowed = 0
  if wait == 0 then allowed = 1 end
  for i = 0, n - 1 do
    local cap = tonumber(args[at + 2 * i]); local rate = tonumber(args[at + 2 * i + 1])
    local t = tokens[i]
    if allowed == 1 then t = t - cost end
    redis.call('HSET', keys[first + i], 't', t, 'ts', now)
    redis.call('PEXPIRE', keys[first + i], math.ceil(cap / rate * 1000) + 1000)
  end
  return allowed, wait
end
"""

# KEYS: bucket keys; ARGV: (capacity, rate) per key, then now, cost.
_TAKE = (
    TAKE_BUCKETS_LUA
    + """
local n = #KEYS
local allowed, wait = take_buckets(KEYS, 1, n, ARGV, 1, tonumber(ARGV[2 * n + 1]),
                                   tonumber(ARGV[2 * n + 2]))
return {allowed, wait}
"""
)

_TAKE_SCRIPT = BatchedScript(_TAKE)


@dataclass(frozen=True)
class RateLimit:
    """A named bucket family: `capacity` actions per key, refilled at `per_second`."""

    name: str
    capacity: float
    per_second: float

    def key(self, key: str) -> str:
        """The Redis key of this limit's bucket for `key`."""
        return f"rl:{self.name}:{key}"

    def args(self) -> list[str]:
        """The (capacity, refill) script arguments."""
        return [repr(float(self.capacity)), repr(float(self.per_second))]


class RateLimiter:
    """Spends from named token buckets, atomically across processes, in one round trip
    (shared with the other script calls of the same event-loop turn: server.redisbatch)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def take(
        self, checks: Sequence[tuple[RateLimit, str]], now: float, cost: float = 1.0
    ) -> tuple[bool, int]:
        """(allowed, retry_after_ms) for spending `cost` from every (limit, key), all or none."""
        if not checks:
            return True, 0
        args: list[str] = []
        for limit, _ in checks:
            args += limit.args()
        allowed, wait = await _TAKE_SCRIPT(
            self._redis, [limit.key(key) for limit, key in checks], [*args, repr(now), repr(cost)]
        )
        return bool(allowed), int(wait)

    def bucket(self, limit: RateLimit) -> Bucket:
        """`limit` bound to this limiter, for callers that check one bucket."""
        return Bucket(self, limit)


@dataclass(frozen=True)
class Bucket:
    """One named limit checked through a limiter."""

    limiter: RateLimiter
    limit: RateLimit

    async def take(self, key: str, now: float, cost: float = 1.0) -> tuple[bool, int]:
        """(allowed, retry_after_ms) for spending `cost` from this limit's bucket for `key`."""
        return await self.limiter.take([(self.limit, key)], now, cost)


class FailureCounter:
    """Counts failures per key in a fixed window; blocked once `limit` is reached."""

    def __init__(self, redis: Redis, prefix: str, limit: int, window: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self.limit = limit
        self.window = window

    async def reserve(self, key: str) -> int:
        """Count an attempt before it is judged; returns seconds to wait if over the limit.

        Counting first is what makes the limit hold against concurrent attempts.
        """
        name = f"{self._prefix}:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, self.window, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return max(int(ttl), 1) if int(count) > self.limit else 0

    async def release(self, key: str) -> None:
        """Take back one reserved attempt (it succeeded)."""
        await self._redis.decr(f"{self._prefix}:{key}")

    async def clear(self, key: str) -> None:
        """Forget failures after a success."""
        await self._redis.delete(f"{self._prefix}:{key}")
