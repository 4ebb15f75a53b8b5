"""The one rate limiter: named buckets, several checked in one atomic round trip."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis

from server.ratelimit import RateLimit, RateLimiter


async def test_several_buckets_are_spent_all_or_nothing(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    wide = RateLimit(f"wide-{uuid.uuid4().hex}", capacity=3, per_second=1.0)
    narrow = RateLimit(f"narrow-{uuid.uuid4().hex}", capacity=1, per_second=0.5)
    now = 1000.0
    assert await limiter.take([(wide, "ip"), (narrow, "a")], now) == (True, 0)
    # The narrow bucket is empty: refused, and the wide one is not charged for it.
    allowed, wait_ms = await limiter.take([(wide, "ip"), (narrow, "a")], now)
    assert not allowed and wait_ms == 2000
    assert await limiter.take([(wide, "ip"), (narrow, "b")], now) == (True, 0)
    assert await limiter.take([(wide, "ip")], now) == (True, 0)
    allowed, wait_ms = await limiter.take([(wide, "ip")], now)
    assert not allowed and wait_ms == 1000
    # Refill at the configured rate.
    assert await limiter.take([(wide, "ip"), (narrow, "a")], now + 2) == (True, 0)


async def test_concurrent_takes_never_overspend(redis: Redis) -> None:
    bucket = RateLimiter(redis).bucket(RateLimit(f"c-{uuid.uuid4().hex}", 5, 0.001))
    results = await asyncio.gather(*(bucket.take("k", 50.0) for _ in range(40)))
    assert sum(1 for allowed, _ in results if allowed) == 5


async def test_limits_with_the_same_key_do_not_share_a_bucket(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    one = RateLimit(f"one-{uuid.uuid4().hex}", 1, 1.0)
    two = RateLimit(f"two-{uuid.uuid4().hex}", 1, 1.0)
    assert (await limiter.take([(one, "same")], 0.0))[0]
    assert (await limiter.take([(two, "same")], 0.0))[0]
    assert not (await limiter.take([(one, "same")], 0.0))[0]
