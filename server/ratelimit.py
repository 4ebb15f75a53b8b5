"""Redis-backed limits: fixed-window failure counters and a token bucket."""

from __future__ import annotations

from redis.asyncio import Redis

# Token bucket in one round trip, atomic across processes. KEYS[1] bucket; ARGV: capacity,
# refill per second, now (seconds, float), cost. Returns {allowed (0/1), retry_after_ms}.
_BUCKET = """
local cap = tonumber(ARGV[1]); local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3]); local cost = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1]); local ts = tonumber(b[2])
if tokens == nil then tokens = cap; ts = now end
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local allowed = 0; local wait = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1
else wait = math.ceil((cost - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000) + 1000)
return {allowed, wait}
"""


class TokenBucket:
    """`capacity` actions, refilled at `rate` per second, per key."""

    def __init__(self, redis: Redis, prefix: str, capacity: float, rate: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._capacity = capacity
        self._rate = rate
        self._script = redis.register_script(_BUCKET)

    async def take(self, key: str, now: float, cost: float = 1.0) -> tuple[bool, int]:
        """Spend `cost` tokens; returns (allowed, retry_after_ms)."""
        allowed, wait = await self._script(
            keys=[f"{self._prefix}:{key}"], args=[self._capacity, self._rate, now, cost]
        )
        return bool(allowed), int(wait)


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
