"""What every connect and join reads, fetched once for many: the cure for the join storm.

Fans arrive together in the minute before a show. A connect needs the fan's display name
and a join needs the event and its moderators; fetched one by one that is thousands of
identical or near-identical queries a second. Here concurrent name lookups share one query,
concurrent event reads share one fetch, and an event's row and moderator set are kept for a
second or two and dropped early when they change (a status change, an assignment), on every
process through the control bus.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import asyncpg

from server.accounts.service import display_names
from server.batching import Batcher
from server.chat import store
from server.errors import not_found
from server.live.event import Event
from server.live.service import find_event

K = TypeVar("K")
V = TypeVar("V")

EVENT_TTL = 1.0
MODERATORS_TTL = 2.0


class Cached(Generic[K, V]):
    """Values kept for `ttl` seconds; concurrent misses of one key share one fetch."""

    def __init__(self, fetch: Callable[[K], Awaitable[V]], ttl: float) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._values: dict[K, tuple[float, V]] = {}
        self._pending: dict[K, asyncio.Future[V]] = {}
        # Bumped by every drop: a fetch that began before a drop is not kept (drops are rare).
        self._generation = 0

    async def get(self, key: K) -> V:
        """The cached value, or a fresh one."""
        hit = self._values.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, self._generation))
            self._pending[key] = pending
        return await asyncio.shield(pending)

    async def _load(self, key: K, generation: int) -> V:
        try:
            value = await self._fetch(key)
            if self._generation == generation:  # nothing dropped while loading
                self._values[key] = (time.monotonic() + self._ttl, value)
                self._prune()
            return value
        finally:
            if self._pending.get(key) is asyncio.current_task():
                del self._pending[key]

    def drop(self, key: K) -> None:
        """Forget `key` now (a fetch under way will not be kept either)."""
        self._values.pop(key, None)
        self._pending.pop(key, None)
        self._generation += 1

    def _prune(self) -> None:
        if len(self._values) > 10_000:  # ended events are never asked for again
            now = time.monotonic()
            self._values = {k: v for k, v in self._values.items() if v[0] > now}


class Lookups:
    """Batched and briefly cached reads of users, events and moderators."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool
        self._names: Batcher[uuid.UUID, str] = Batcher(self._fetch_names)
        self._events: Cached[uuid.UUID, Event | None] = Cached(self._fetch_event, EVENT_TTL)
        self._moderators: Cached[uuid.UUID, frozenset[uuid.UUID]] = Cached(
            self._fetch_moderators, MODERATORS_TTL
        )

    async def _fetch_names(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        async with self._pool().acquire() as conn:
            return await display_names(conn, user_ids)

    async def _fetch_event(self, event_id: uuid.UUID) -> Event | None:
        async with self._pool().acquire() as conn:
            return await find_event(conn, event_id)

    async def _fetch_moderators(self, event_id: uuid.UUID) -> frozenset[uuid.UUID]:
        async with self._pool().acquire() as conn:
            rows = await store.moderators(conn, event_id)
        return frozenset(row["user_id"] for row in rows)

    async def display_name(self, user_id: uuid.UUID) -> str | None:
        """The account's display name, or None when the account is gone."""
        return await self._names.get(user_id)

    async def event(self, event_id: uuid.UUID) -> Event:
        """The event (at most EVENT_TTL old), or a 404."""
        row = await self._events.get(event_id)
        if row is None:
            self._events.drop(event_id)  # a missing event is not remembered
            raise not_found("event")
        return row

    async def is_moderator(self, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """True when `user_id` is assigned to moderate the event."""
        return user_id in await self._moderators.get(event_id)

    def event_changed(self, event_id: uuid.UUID) -> None:
        """Forget the event's row (its status changed)."""
        self._events.drop(event_id)

    def moderators_changed(self, event_id: uuid.UUID) -> None:
        """Forget the event's moderators (one was assigned or removed)."""
        self._moderators.drop(event_id)
