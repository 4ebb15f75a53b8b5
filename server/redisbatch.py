"""Redis calls of concurrent callers sent together: one round trip per loop turn.

redis-py spends far more CPU on a command (a pool checkout, timeouts, a write and a read, and
waking Redis) than Redis spends answering it. Hot paths that each make one call therefore
share that cost: script calls (rate limits, the revocation check, chat's admissions and
joins) made during one turn of the event loop leave together, on the next turn, as one
non-transactional pipeline, and key reads (every request's revocation check) as one MGET.
Nobody waits for more callers to arrive, and each caller gets its own reply or error as from
a direct call. Each script still runs atomically in Redis; only the round trip is shared.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from server.batching import Batcher

Arg = str | int | float


@dataclass(frozen=True, eq=False)  # each call is its own: two alike both run
class _Call:
    script: BatchedScript
    keys: Sequence[str]
    args: Sequence[Arg]


class ScriptBatch:
    """One Redis client's script calls, gathered per loop turn into one pipeline."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._batcher: Batcher[_Call, Any] = Batcher(self._send)

    async def run(self, script: BatchedScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """The script's reply to these keys and arguments; a Redis error is raised."""
        result = await self._batcher.get(_Call(script, keys, args))
        if isinstance(result, Exception):
            raise result
        return result

    async def _pipeline(self, calls: Sequence[_Call]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
            # Errors come back in place, so one failing script fails only its own caller.
            return list(await pipe.execute(raise_on_error=False))

    async def _send(self, calls: list[_Call]) -> dict[_Call, Any]:
        results = await self._pipeline(calls)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            # Redis lost its script cache (a restart, SCRIPT FLUSH): load, then resend those.
            for text in {calls[i].script.text for i in missing}:
                await self._redis.script_load(text)
            again = await self._pipeline([calls[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return dict(zip(calls, results, strict=True))


class ReadBatch:
    """One Redis client's key reads, gathered per loop turn into one MGET."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._batcher: Batcher[tuple[str, ...], tuple[str | None, ...]] = Batcher(self._read)

    async def get(self, keys: tuple[str, ...]) -> tuple[str | None, ...]:
        """The keys' values (None for a missing key), in order."""
        values = await self._batcher.get(keys)
        assert values is not None  # every asked-for tuple is answered
        return values

    async def _read(
        self, wanted: list[tuple[str, ...]]
    ) -> dict[tuple[str, ...], tuple[str | None, ...]]:
        keys = list(dict.fromkeys(key for group in wanted for key in group))
        # The app's clients decode responses (decode_responses=True): values are text.
        found = cast("list[str | None]", await self._redis.mget(keys))
        values = dict(zip(keys, found, strict=True))
        return {group: tuple(values[key] for key in group) for group in wanted}


@dataclass
class _Batches:
    scripts: ScriptBatch
    reads: ReadBatch


_BATCHES: weakref.WeakKeyDictionary[Redis, _Batches] = weakref.WeakKeyDictionary()


def _batches(redis: Redis) -> _Batches:
    batches = _BATCHES.get(redis)
    if batches is None:
        batches = _BATCHES[redis] = _Batches(ScriptBatch(redis), ReadBatch(redis))
    return batches


def batch_for(redis: Redis) -> ScriptBatch:
    """The one script batch of a Redis client, so all its scripts share round trips."""
    return _batches(redis).scripts


async def read(redis: Redis, *keys: str) -> tuple[str | None, ...]:
    """MGET of `keys`, shared with the other reads of this loop turn."""
    return await _batches(redis).reads.get(keys)


class BatchedScript:
    """A Lua script, run through the batch of whichever client it is called with."""

    def __init__(self, text: str) -> None:
        self.text = text
        # What Redis names the script by (EVALSHA), as SCRIPT LOAD computes it.
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """The script's reply to these keys and arguments."""
        return await batch_for(redis).run(self, keys, args)
