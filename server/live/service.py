"""Live event rules: creation, edits, stream keys and the publish lifecycle.

Other packages read events through `get_event`, `find_event`, `listing` and `on_air`, which
return the typed `server.live.event.Event` (its rules are methods: `is_open`, `is_run_by`,
`is_managed_by`); none of them reads the live_events table or its rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from server import audit
from server.accounts.tokens import Principal
from server.errors import conflict, forbidden, not_found
from server.keys import CLOCK, DB
from server.live import store
from server.live.event import Event
from server.metrics import PUBLISHES

# An OBS reconnect within this window resumes the show instead of leaving it ended.
RESUME_GRACE = timedelta(minutes=10)
# nginx reports each publisher every 30 s (on_update); three missed reports free the slot.
PUBLISHER_STALE = timedelta(seconds=90)
# How many such shows one sweep ends (server.live.sweeper); the next sweep takes the rest.
STALE_BATCH = 100

StatusListener = Callable[[web.Application, uuid.UUID, str], Awaitable[None]]
STATUS_LISTENERS = web.AppKey("live_status_listeners", list[StatusListener])
# Called inside the transaction that changes the status: the work they enqueue there (the
# job queue's outbox) exists exactly when the change commits.
StatusOutbox = Callable[[web.Application, asyncpg.Connection, uuid.UUID, str], Awaitable[None]]
STATUS_OUTBOX = web.AppKey("live_status_outbox", list[StatusOutbox])

# Every feed's first page leads with the shows on air: thousands of first pages a second would
# each run the same query, so one process reads the listing at most once per ON_AIR_TTL_S. A
# show this process starts or ends drops it at once; one started or ended by another process
# shows here within ON_AIR_TTL_S.
ON_AIR_TTL_S = 1.0
ON_AIR_LIMIT = 50


class OnAir:
    """The events on air (at most ON_AIR_LIMIT), kept ON_AIR_TTL_S; misses share one query."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._until = -math.inf
        self._pending: asyncio.Future[list[Event]] | None = None
        # Bumped by every drop: a read that began before a status change is not kept.
        self._generation = 0

    async def get(self, app: web.Application) -> list[Event]:
        """The kept listing while it is fresh, else one read shared by concurrent callers."""
        if app[CLOCK].time() < self._until:
            return self._events
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._load(app, self._generation))
        return await asyncio.shield(self._pending)

    async def _load(self, app: web.Application, generation: int) -> list[Event]:
        started = app[CLOCK].time()
        try:
            async with app[DB].acquire() as conn:
                events = await store.listing(conn, ("live",), ON_AIR_LIMIT)
            if generation == self._generation:
                self._events, self._until = events, started + ON_AIR_TTL_S
            return events
        finally:
            if generation == self._generation:
                self._pending = None

    def drop(self) -> None:
        """Forget the listing now (a read under way is not kept either)."""
        self._until = -math.inf
        self._pending = None
        self._generation += 1


ON_AIR = web.AppKey("live_on_air", OnAir)


def setup(app: web.Application) -> None:
    """Give the app its on-air listing, dropped on every status change made here."""
    app[ON_AIR] = OnAir()
    app.setdefault(STATUS_LISTENERS, []).append(_drop_on_air)


async def _drop_on_air(app: web.Application, event_id: uuid.UUID, status: str) -> None:
    app[ON_AIR].drop()


def new_stream_key() -> tuple[str, bytes]:
    """A stream key (shown once) and the digest stored in its place."""
    key = "live_" + secrets.token_urlsafe(24)
    return key, key_digest(key)


def key_digest(key: str) -> bytes:
    """SHA-256 of a key: keys are random 192-bit strings, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).digest()


async def get_event(app: web.Application, event_id: uuid.UUID) -> Event:
    """An event or a 404."""
    async with app[DB].acquire() as conn:
        event = await store.get(conn, event_id)
    if event is None:
        raise not_found("event")
    return event


async def find_event(conn: asyncpg.Connection, event_id: uuid.UUID) -> Event | None:
    """An event read on the caller's connection, or None."""
    return await store.get(conn, event_id)


async def listing(
    app: web.Application, statuses: tuple[str, ...], limit: int, artist_id: uuid.UUID | None = None
) -> list[Event]:
    """Events in the given states, soonest first (one artist's when `artist_id` is given)."""
    async with app[DB].acquire() as conn:
        return await store.listing(conn, statuses, limit, artist_id)


async def on_air(app: web.Application) -> list[Event]:
    """The events on air, soonest first (at most ON_AIR_LIMIT; up to ON_AIR_TTL_S old)."""
    return await app[ON_AIR].get(app)


def ensure_owner(principal: Principal, event: Event) -> None:
    """Only the event's artist (or an admin) manages it."""
    if not event.is_managed_by(principal):
        raise forbidden("only the event's artist can do this")


async def create(app: web.Application, artist: Principal, fields: dict[str, Any]) -> dict[str, Any]:
    """Create an event; the stream key is in this reply and nowhere else."""
    key, digest = new_stream_key()
    async with app[DB].acquire() as conn, conn.transaction():
        event = await store.insert(conn, uuid.uuid4(), artist.user_id, fields, digest)
        await audit.record(
            app,
            conn,
            "EVENT_CREATED",
            actor=artist.user_id,
            subject=event.id,
            price=event.price_minor,
            currency=event.currency,
        )
    return {**event.to_json(), "stream_key": key}


async def edit(
    app: web.Application, principal: Principal, event_id: uuid.UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Edit an event that has not started."""
    ensure_owner(principal, await get_event(app, event_id))
    async with app[DB].acquire() as conn:
        row = await store.update(conn, event_id, changes, app[CLOCK].now())
    if row is None:
        raise conflict("only scheduled events can be edited", "not_editable")
    return row.to_json()


async def cancel(app: web.Application, principal: Principal, event_id: uuid.UUID) -> dict[str, Any]:
    """Cancel an event that has not started."""
    ensure_owner(principal, await get_event(app, event_id))
    async with app[DB].acquire() as conn, conn.transaction():
        row = await store.cancel(conn, event_id, app[CLOCK].now())
        if row is not None:
            await audit.record(
                app, conn, "EVENT_CANCELLED", actor=principal.user_id, subject=event_id
            )
            await _outbox(app, conn, event_id, "cancelled")
    if row is None:
        raise conflict("only scheduled events can be cancelled", "not_cancellable")
    await _notify(app, event_id, "cancelled")
    return row.to_json()


async def rotate_key(
    app: web.Application, principal: Principal, event_id: uuid.UUID
) -> dict[str, Any]:
    """Issue a new stream key; the old one stops working at once."""
    ensure_owner(principal, await get_event(app, event_id))
    key, digest = new_stream_key()
    async with app[DB].acquire() as conn:
        changed = await store.set_key(conn, event_id, digest, app[CLOCK].now())
    if not changed:
        raise conflict("the event is over; its key cannot change", "not_editable")
    await audit.log(app, "STREAM_KEY_ROTATED", actor=principal.user_id, subject=event_id)
    return {"id": str(event_id), "stream_key": key}


async def _outbox(
    app: web.Application, conn: asyncpg.Connection, event_id: uuid.UUID, status: str
) -> None:
    for hook in app.get(STATUS_OUTBOX, []):
        await hook(app, conn, event_id, status)


async def _notify(app: web.Application, event_id: uuid.UUID, status: str) -> None:
    for listener in app.get(STATUS_LISTENERS, []):
        await listener(app, event_id, status)


async def publish_started(app: web.Application, key: str, client: str) -> uuid.UUID | None:
    """Claim the stream for a key; the event id it is renamed to, or None to refuse."""
    clock = app[CLOCK]
    now = clock.now()
    async with app[DB].acquire() as conn, conn.transaction():
        row = await store.start_publish(
            conn, key_digest(key), client, now, now - RESUME_GRACE, now - PUBLISHER_STALE
        )
        if row is not None:
            await audit.record(
                app, conn, "STREAM_STARTED", actor=row.artist_id, subject=row.id, client=client
            )
    if row is None:
        PUBLISHES.labels("refused").inc()
        return None
    PUBLISHES.labels("accepted").inc()
    await _notify(app, row.id, "live")
    return row.id


async def is_on_air(app: web.Application, name: str) -> bool:
    """True when `name` is the id of an event whose publisher the app accepted."""
    try:
        event_id = uuid.UUID(name)
    except ValueError:
        return False
    async with app[DB].acquire() as conn:
        row = await store.get(conn, event_id)
    return row is not None and row.publishing


async def _event_id_for(conn: asyncpg.Connection, name: str, client: str) -> uuid.UUID | None:
    """nginx names a stream by its event id after the rename, or by the key it arrived with.

    nginx keeps the key it arrived with for the whole connection, so after a key rotation
    mid-show the name matches no key: the stream is then the one event whose claim nginx's
    `client` holds (None when none or several do, as after an nginx restart reused its ids).
    """
    try:
        return uuid.UUID(name)
    except ValueError:
        pass
    event = await store.event_for_key(conn, key_digest(name))
    if event is not None:
        return event.id
    held = await store.events_held_by(conn, client, 2)
    return held[0] if len(held) == 1 else None


async def publisher_alive(app: web.Application, name: str, client: str) -> bool | None:
    """nginx's periodic on_update: the publisher still streams.

    True when `client` holds the event's claim (now refreshed), False when it does not (taken
    over, or the event ended), None when `name` names no event.
    """
    async with app[DB].acquire() as conn:
        event_id = await _event_id_for(conn, name, client)
        if event_id is None:
            return None
        return await store.publisher_seen(conn, event_id, client, app[CLOCK].now())


async def publish_ended(app: web.Application, name: str, client: str) -> None:
    """Release the stream; `name` is the event id after the rename (or the key if none)."""
    async with app[DB].acquire() as conn:
        event_id = await _event_id_for(conn, name, client)
    if event_id is not None:
        now = app[CLOCK].now()
        await _end_publish(app, event_id, client, now, now)


async def end_stale_publishers(app: web.Application) -> None:
    """End shows whose publisher nginx stopped vouching for.

    An `on_publish_done` sent while the app was down is lost; without this the event would
    stay live forever. It ends when the publisher was last seen, so an OBS reconnect within
    RESUME_GRACE of that still resumes it.
    """
    now = app[CLOCK].now()
    stale_before = now - PUBLISHER_STALE
    async with app[DB].acquire() as conn:
        stale = await store.stale_publishers(conn, stale_before, STALE_BATCH)
    for event_id, client, seen_at in stale:
        await _end_publish(app, event_id, client, seen_at or now, now, stale_before)


async def _end_publish(
    app: web.Application,
    event_id: uuid.UUID,
    client: str,
    ended_at: datetime,
    now: datetime,
    seen_before: datetime | None = None,
) -> None:
    async with app[DB].acquire() as conn, conn.transaction():
        row = await store.end_publish(conn, event_id, client, ended_at, now, seen_before)
        if row is not None:
            await _outbox(app, conn, row.id, "ended")
            await audit.record(
                app, conn, "STREAM_ENDED", actor=row.artist_id, subject=row.id, client=client
            )
    if row is not None:
        await _notify(app, row.id, "ended")
