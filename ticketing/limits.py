"""Validation rate limits: two token buckets (per IP per event, per ticket) in one Redis call.

Same bucket arithmetic as server.ratelimit.TokenBucket, but both buckets are checked and
spent atomically in one round trip, and a refusal by either spends from neither.
"""

from __future__ import annotations

from redis.asyncio import Redis

# KEYS: bucket keys (1 or 2); ARGV: per key (capacity, rate per s), then now, cost.
# Returns {allowed (0/1), retry_after_ms}.
_BUCKETS = """
local n = #KEYS
local now = tonumber(ARGV[2 * n + 1]); local cost = tonumber(ARGV[2 * n + 2])
local tokens = {}; local wait = 0
for i = 1, n do
  local cap = tonumber(ARGV[2 * i - 1]); local rate = tonumber(ARGV[2 * i])
  local b = redis.call('HMGET', KEYS[i], 't', 'ts')
  local t = tonumber(b[1]); local ts = tonumber(b[2])
  if t == nil then t = cap; ts = now end
  t = math.min(cap, t + math.max(0, now - ts) * rate)
  tokens[i] = t
  if t < cost then wait = math.max(wait, math.ceil((cost - t) / rate * 1000)) end
end
local allowed = 0
if wait == 0 then allowed = 1 end
for i = 1, n do
  local cap = tonumber(ARGV[2 * i - 1]); local rate = tonumber(ARGV[2 * i])
  local t = tokens[i]
  if allowed == 1 then t = t - cost end
  redis.call('HSET', KEYS[i], 't', t, 'ts', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(cap / rate * 1000) + 1000)
end
return {allowed, wait}
"""


class Bucket:
    """A named bucket family: `capacity` actions refilled at `rate` per second, per key."""

    def __init__(self, prefix: str, capacity: float, rate: float) -> None:
        self.prefix = prefix
        self.capacity = capacity
        self.rate = rate


class MultiBucket:
    """Spend from several buckets at once, all or nothing."""

    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_BUCKETS)

    async def take(self, checks: list[tuple[Bucket, str]], now: float,
                   cost: float = 1.0) -> tuple[bool, int]:
        """(allowed, retry_after_ms) for spending `cost` from each (bucket, key)."""
        keys = [f"{bucket.prefix}:{key}" for bucket, key in checks]
        args: list[float] = []
        for bucket, _ in checks:
            args += [bucket.capacity, bucket.rate]
        allowed, wait = await self._script(keys=keys, args=[*args, now, cost])
        return bool(allowed), int(wait)
