"""Who is in each room: a local index per process and a viewer count shared through Redis.

Each process keeps one sorted-set member per (process, user) in an event's viewer set, scored
with an expiry it refreshes every heartbeat; a process that dies stops refreshing, so its
viewers drop out after `presence_ttl` without anyone cleaning up after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from server.chat.lookups import Cached
from server.chat.metrics import VIEWER_BROADCASTS
from server.chat.settings import ChatSettings

log = logging.getLogger(__name__)

Broadcast = Callable[[uuid.UUID, int], Awaitable[None]]

# How stale the count in a join reply may be. Counting reads the whole viewer set, so a
# count per join would make a storm of N joins cost N^2; this makes it a few reads a second.
# The heartbeat broadcasts the exact count every `presence_interval` anyway.
JOIN_COUNT_TTL = 1.0


def _key(event_id: uuid.UUID) -> str:
    return f"chat:ev:{event_id}:viewers"


class Presence:
    """Room membership of this process's connections and the cross-process viewer count."""

    def __init__(self, redis: Redis, settings: ChatSettings, process_id: str) -> None:
        self._redis = redis
        self._settings = settings
        self.process_id = process_id
        self._members: dict[uuid.UUID, dict[uuid.UUID, set[str]]] = {}
        # Membership writes are group-committed: a storm of joins or disconnects becomes a
        # few pipelines instead of one Redis command (and pool connection) per socket.
        self._ops: list[tuple[str, str, str, float]] = []
        self._batch: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._recent_counts: Cached[uuid.UUID, int] = Cached(self.count, JOIN_COUNT_TTL)

    def _member(self, user_id: uuid.UUID) -> str:
        return f"{self.process_id}:{user_id}"

    async def add(self, event_id: uuid.UUID, user_id: uuid.UUID, sid: str) -> None:
        """Count a connection in; the user's first one here adds them to the shared set."""
        sids = self._members.setdefault(event_id, {}).setdefault(user_id, set())
        first = not sids
        sids.add(sid)
        if first:
            expires = time.time() + self._settings.presence_ttl
            await self._commit(("add", _key(event_id), self._member(user_id), expires))

    async def remove(self, event_id: uuid.UUID, user_id: uuid.UUID, sid: str) -> None:
        """Count a connection out; the user's last one here leaves the shared set."""
        users = self._members.get(event_id)
        if users is None or sid not in users.get(user_id, ()):
            return
        users[user_id].discard(sid)
        if users[user_id]:
            return
        del users[user_id]
        if not users:
            del self._members[event_id]
        await self._commit(("rem", _key(event_id), self._member(user_id), 0.0))

    async def _commit(self, op: tuple[str, str, str, float]) -> None:
        """Queue a write and wait for the pipeline that carries it (writes keep their order)."""
        self._ops.append(op)
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        batch = self._batch
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="chat-presence-flush")
        await asyncio.shield(batch)

    async def _flush(self) -> None:
        try:
            while self._ops:
                ops, self._ops = self._ops, []
                batch, self._batch = self._batch, None
                assert batch is not None
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for kind, key, member, expires in ops:
                            if kind == "add":
                                pipe.zadd(key, {member: expires})
                            else:
                                pipe.zrem(key, member)
                        await pipe.execute()
                except Exception as exc:  # noqa: BLE001 - handed to every waiter of the batch
                    batch.set_exception(exc)
                    batch.exception()  # retrieved here too, in case every waiter was cancelled
                else:
                    batch.set_result(None)
        finally:
            self._flusher = None

    async def count(self, event_id: uuid.UUID) -> int:
        """Distinct users in the room across all live processes."""
        members = await self._redis.zrangebyscore(_key(event_id), time.time(), "+inf")
        return len({str(m).partition(":")[2] for m in members})

    async def recent_count(self, event_id: uuid.UUID) -> int:
        """`count`, at most JOIN_COUNT_TTL seconds old (concurrent callers share one read)."""
        return await self._recent_counts.get(event_id)

    async def heartbeat(self) -> dict[uuid.UUID, int]:
        """Refresh this process's members and return the count of each room it hosts."""
        events = list(self._members)
        if not events:
            return {}
        now = time.time()
        expires = now + self._settings.presence_ttl
        positions: list[tuple[uuid.UUID, int]] = []
        async with self._redis.pipeline(transaction=False) as pipe:
            for event_id in events:
                key = _key(event_id)
                users = self._members.get(event_id, {})
                if users:
                    pipe.zadd(key, {self._member(u): expires for u in users})
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.expire(key, int(self._settings.presence_ttl * 4) + 1)
                pipe.zrangebyscore(key, now, "+inf")
                positions.append((event_id, len(pipe) - 1))
            results = await pipe.execute()
        counts: dict[uuid.UUID, int] = {}
        for event_id, at in positions:
            counts[event_id] = len({m.partition(":")[2] for m in results[at]})
        return counts

    async def run(self, broadcast: Broadcast) -> None:
        """Heartbeat and broadcast counts every `presence_interval` until cancelled."""
        while True:
            await asyncio.sleep(self._settings.presence_interval)
            try:
                for event_id, count in (await self.heartbeat()).items():
                    await broadcast(event_id, count)
                    VIEWER_BROADCASTS.inc()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis blips must not end the loop; the next beat retries
                log.exception("presence heartbeat failed")

    async def close(self) -> None:
        """Withdraw this process's members at a clean shutdown."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for event_id, users in self._members.items():
                if users:
                    pipe.zrem(_key(event_id), *(self._member(u) for u in users))
            await pipe.execute()
        self._members.clear()
