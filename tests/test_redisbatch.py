"""Redis calls of one loop turn share a round trip; each caller still gets its own answer."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from server import redisbatch
from server.ratelimit import RateLimit, RateLimiter
from server.redisbatch import BatchedScript

_ECHO = BatchedScript("return {KEYS[1], ARGV[1]}")
_INCR = BatchedScript("return redis.call('INCR', KEYS[1])")


async def _reads(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_reads_processed"])


async def test_concurrent_calls_leave_together_and_each_gets_its_own_reply(redis: Redis) -> None:
    keys = [f"sb:{uuid.uuid4().hex}" for _ in range(200)]
    await _ECHO(redis, ["warm"], ["up"])  # the script is loaded once
    before = await _reads(redis)
    replies = await asyncio.gather(*(_ECHO(redis, [k], [str(i)]) for i, k in enumerate(keys)))
    reads = await _reads(redis) - before
    assert replies == [[k, str(i)] for i, k in enumerate(keys)]
    # One by one, Redis would have read 200 requests (plus the INFO above); together, a few.
    assert reads < 20, reads


async def test_a_failing_script_fails_only_its_own_caller(redis: Redis) -> None:
    counter, wrong = f"sb:{uuid.uuid4().hex}", f"sb:{uuid.uuid4().hex}"
    await redis.sadd(wrong, "x")  # INCR on a set is a WRONGTYPE error
    results = await asyncio.gather(
        *(_INCR(redis, [wrong if i == 3 else counter], []) for i in range(8)),
        return_exceptions=True,
    )
    assert isinstance(results[3], ResponseError) and "WRONGTYPE" in str(results[3])
    assert sorted(r for i, r in enumerate(results) if i != 3) == [1, 2, 3, 4, 5, 6, 7]


async def test_scripts_come_back_after_redis_forgets_them(redis: Redis) -> None:
    bucket = RateLimit(f"flush-{uuid.uuid4().hex}", capacity=5, per_second=0.001)
    limiter = RateLimiter(redis)
    assert await limiter.take([(bucket, "k")], 10.0) == (True, 0)
    await redis.script_flush()  # what a Redis restart leaves
    results = await asyncio.gather(*(limiter.take([(bucket, "k")], 10.0) for _ in range(10)))
    assert sum(1 for allowed, _ in results if allowed) == 4


async def test_a_lost_connection_fails_every_caller_of_the_batch(redis: Redis) -> None:
    dead: Redis = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    try:
        results = await asyncio.gather(
            *(_ECHO(dead, ["k"], [str(i)]) for i in range(5)), return_exceptions=True
        )
    finally:
        await dead.aclose()
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    assert await _ECHO(redis, ["k"], ["alive"]) == ["k", "alive"]  # other clients' batches run


async def test_concurrent_reads_share_one_mget_and_each_gets_its_own_keys(redis: Redis) -> None:
    prefix = f"sb:{uuid.uuid4().hex}"
    await redis.mset({f"{prefix}:{i}": str(i) for i in range(0, 300, 2)})  # odd keys missing
    await redisbatch.read(redis, "warm")
    wanted = [(f"{prefix}:{i}", f"{prefix}:{i + 1}", f"{prefix}:0") for i in range(150)]
    before = await _reads(redis)
    replies = await asyncio.gather(*(redisbatch.read(redis, *keys) for keys in wanted))
    reads = await _reads(redis) - before
    expected = [
        tuple(None if int(k.rsplit(":", 1)[1]) % 2 else k.rsplit(":", 1)[1] for k in keys)
        for keys in wanted
    ]
    assert replies == expected
    assert reads < 20, reads
