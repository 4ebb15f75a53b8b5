"""Rooms: joining and leaving an event's chat, its Redis mirror, and removing sockets from it."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from server.access import can_watch
from server.accounts.tokens import Principal
from server.chat import store, wire
from server.chat.cache import RECENT_MAX, JoinState
from server.chat.connections import ensure_fresh
from server.chat.hub import CHAT, HUB, MAX_ROOMS_PER_CONNECTION, Connection, room_of
from server.chat.payloads import EventRef
from server.errors import ApiError, conflict, forbidden
from server.keys import CLOCK, DB
from server.live.event import Event

log = logging.getLogger(__name__)

HISTORY = 50


async def can_moderate(app: web.Application, principal: Principal, event: Event) -> bool:
    """The event's artist, its assigned moderators, and platform moderators/admins."""
    if event.is_run_by(principal):
        return True
    return await app[CHAT].lookups.is_moderator(event.id, principal.user_id)


async def assigned_moderator_rule(app: web.Application, principal: Principal, event: Event) -> bool:
    """A watch rule: moderators assigned to an event may watch it (and so join its chat)."""
    if CHAT in app:
        return await app[CHAT].lookups.is_moderator(event.id, principal.user_id)
    async with app[DB].acquire() as conn:
        return await store.is_moderator(conn, event.id, principal.user_id)


# ---- the Redis mirror -----------------------------------------------------------------------


async def warm(app: web.Application, event_id: uuid.UUID) -> None:
    """Load an event's chat state from PostgreSQL into the Redis mirror.

    Concurrent callers for one event share one load: at show start every joiner finds the
    event cold at once, and each loading it would be thousands of identical snapshots.
    """
    warming = app[CHAT].warming
    running = warming.get(event_id)
    if running is None:
        running = asyncio.ensure_future(_warm(app, event_id))
        warming[event_id] = running
        running.add_done_callback(lambda _: warming.pop(event_id, None))
    await asyncio.shield(running)


async def _warm(app: web.Application, event_id: uuid.UUID) -> None:
    chat = app[CHAT]
    cache = chat.cache
    for _ in range(5):
        version = await cache.version(event_id)
        async with app[DB].acquire() as conn:
            sanctions = await store.active_sanctions(conn, event_id, app[CLOCK].now())
            room = await store.room(conn, event_id)
            recent = await store.recent_messages(conn, event_id, RECENT_MAX)
            pinned_id = room["pinned_message_id"] if room else None
            pinned = await store.message(conn, event_id, pinned_id) if pinned_id else None
        bans = [s["user_id"] for s in sanctions if s["kind"] == "ban"]
        timeouts = [
            (s["user_id"], s["expires_at"].timestamp()) for s in sanctions if s["kind"] == "timeout"
        ]
        pinned_json = (
            wire.encode(wire.from_row(pinned)) if pinned and not pinned["deleted_at"] else None
        )
        if await cache.load(
            event_id,
            version,
            bans=bans,
            timeouts=timeouts,
            slow_mode=room["slow_mode_seconds"] if room else 0,
            pinned_json=pinned_json,
            recent_json=[wire.encode(wire.from_row(r)) for r in recent],
        ):
            chat.mirror_loads[event_id] = chat.mirror_loads.get(event_id, 0) + 1
            return
    raise ApiError(503, "unavailable", "chat state is busy; retry")


async def join_state(app: web.Application, event_id: uuid.UUID, user_id: uuid.UUID) -> JoinState:
    """The mirror's view of the event for one user, warming it when cold."""
    chat = app[CHAT]
    for _ in range(3):
        loads = chat.mirror_loads.get(event_id, 0)
        state = await chat.cache.join_state(event_id, user_id, HISTORY)
        if state is not None:
            return state
        if chat.mirror_loads.get(event_id, 0) == loads:  # else loaded since: just read again
            await warm(app, event_id)
    raise ApiError(503, "unavailable", "chat state could not be loaded; retry")


# ---- client events --------------------------------------------------------------------------


async def join(app: web.Application, conn: Connection, payload: EventRef) -> dict[str, Any]:
    """Enter an event's room; returns its state and the last 50 visible messages."""
    await ensure_fresh(app, conn)
    event_id = payload.event_id
    if event_id in conn.joining:
        raise conflict("already joining this event", "join_in_progress")
    if event_id not in conn.rooms and len(conn.rooms | conn.joining) >= MAX_ROOMS_PER_CONNECTION:
        raise conflict(
            f"a connection joins at most {MAX_ROOMS_PER_CONNECTION} rooms", "too_many_rooms"
        )
    conn.joining.add(event_id)
    try:
        return await _join(app, conn, event_id)
    finally:
        conn.joining.discard(event_id)


async def _join(app: web.Application, conn: Connection, event_id: uuid.UUID) -> dict[str, Any]:
    chat = app[CHAT]
    event = await chat.lookups.event(event_id)
    if event.is_cancelled:
        raise ApiError(410, "event_cancelled", "the event was cancelled")
    if not await can_watch(app, conn.principal, event):
        raise forbidden("you have no access to this event", "no_access")
    moderator = await can_moderate(app, conn.principal, event)
    if conn.closed:
        raise ApiError(409, "not_connected", "the connection closed while joining")
    user_id = conn.principal.user_id
    # Enter (and be findable by a kick) before reading the ban list: a ban committed after
    # the read then finds this connection and removes it, so none slips between check and entry.
    await chat.hub.sio.enter_room(conn.sid, room_of(event_id))
    conn.rooms.add(event_id)
    try:
        # Both wait on batched Redis round trips; side by side they cost one wait, not two.
        # Both finish before any failure is raised, so the cleanup below undoes a done add.
        added, state = await asyncio.gather(
            chat.presence.add(event_id, user_id, conn.sid),
            join_state(app, event_id, user_id),
            return_exceptions=True,
        )
        if isinstance(added, BaseException):
            raise added
        if isinstance(state, BaseException):
            raise state
        if conn.closed:  # disconnected during the awaits above: undo, or it stays counted
            raise ApiError(409, "not_connected", "the connection closed while joining")
        if state.banned:
            raise forbidden("you are banned from this chat", "banned")
    except BaseException:
        await leave_room(app, conn.sid, event_id)
        raise
    if moderator:
        conn.moderates.add(event_id)
    else:
        conn.moderates.discard(event_id)
    now = app[CLOCK].time()
    until = state.timed_out_until
    return {
        "event": event.to_json(),
        "messages": [json.loads(m) for m in state.recent_json],
        "pinned": json.loads(state.pinned_json) if state.pinned_json else None,
        "slow_mode": state.slow_mode,
        "viewers": await chat.presence.recent_count(event_id),
        "moderator": moderator,
        "timed_out_until": wire.iso(datetime.fromtimestamp(until, UTC)) if until > now else None,
    }


async def leave(app: web.Application, conn: Connection, payload: EventRef) -> dict[str, Any]:
    """Leave an event's room (a no-op when not in it)."""
    if payload.event_id in conn.rooms:
        await leave_room(app, conn.sid, payload.event_id)
    return {}


async def leave_room(app: web.Application, sid: str, event_id: uuid.UUID) -> None:
    """Take one of this process's sockets out of a room: Socket.IO's, ours, and presence."""
    chat = app[CHAT]
    await chat.hub.sio.leave_room(sid, room_of(event_id))
    conn = chat.hub.connections.get(sid)
    if conn is not None:
        conn.rooms.discard(event_id)
        conn.moderates.discard(event_id)
        await chat.presence.remove(event_id, conn.principal.user_id, sid)


# ---- removals pushed by other parts of the system -------------------------------------------


async def remove(
    app: web.Application, event_id: uuid.UUID, notice: str, user_id: uuid.UUID | None = None
) -> None:
    """Tell this process's sockets in the room (one user's, when given) why, then remove them."""
    hub = app[HUB]
    for sid in hub.room_sids(event_id, user_id):
        # Told here, before leaving, because the room broadcast may arrive after the removal.
        await hub.sio.emit(notice, {"event_id": str(event_id)}, to=sid, ignore_queue=True)
        await leave_room(app, sid, event_id)


async def recheck(app: web.Application, event_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Re-decide a user's access to a room they are in (a refund, a moderator removed)."""
    hub = app[HUB]
    sids = hub.room_sids(event_id, user_id)
    if not sids:
        return
    event = await app[CHAT].lookups.event(event_id)
    for sid in sids:
        conn = hub.connections.get(sid)
        if conn is None:
            continue
        if not await can_watch(app, conn.principal, event):
            await hub.sio.emit(
                "access_revoked", {"event_id": str(event_id)}, to=sid, ignore_queue=True
            )
            await leave_room(app, sid, event_id)
        elif not await can_moderate(app, conn.principal, event):
            conn.moderates.discard(event_id)


async def viewers(app: web.Application, event_id: uuid.UUID) -> int:
    """Distinct users in the event's room across all processes."""
    await app[CHAT].lookups.event(event_id)
    return await app[CHAT].presence.count(event_id)


async def history(
    app: web.Application, principal: Principal, event_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The last 50 visible messages, for anyone who may watch the event."""
    event = await app[CHAT].lookups.event(event_id)
    if not await can_watch(app, principal, event):
        raise forbidden("you have no access to this event", "no_access")
    state = await join_state(app, event_id, principal.user_id)
    return [json.loads(m) for m in state.recent_json]
