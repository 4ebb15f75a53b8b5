"""Moderation: who moderates an event, and deleting, timing out, banning, slowing and pinning."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from server import audit
from server.accounts.service import find_account
from server.accounts.tokens import Principal
from server.chat import store, wire
from server.chat.connections import ensure_fresh
from server.chat.hub import CHAT, Connection
from server.chat.payloads import EventRef, MessageRef, Pin, SlowMode, TimeoutUser, UserRef
from server.chat.rooms import can_moderate
from server.errors import forbidden, not_found
from server.keys import CLOCK, DB
from server.live.event import Event
from server.live.service import ensure_owner, get_event


async def _moderated_event(app: web.Application, conn: Connection, payload: EventRef) -> Event:
    await ensure_fresh(app, conn)
    event = await app[CHAT].lookups.event(payload.event_id)
    if not await can_moderate(app, conn.principal, event):
        raise forbidden(
            "only the artist, the event's moderators and admins can moderate", "not_moderator"
        )
    return event


async def _check_target(
    app: web.Application, actor: Principal, event: Event, target: uuid.UUID
) -> None:
    if target == actor.user_id:
        raise forbidden("you cannot sanction yourself", "cannot_sanction")
    async with app[DB].acquire() as conn:
        user = await find_account(conn, target)
        assigned = await store.is_moderator(conn, event.id, target)
    if user is None:
        raise not_found("user")
    if target == event.artist_id or user.is_staff or assigned:
        raise forbidden("moderators cannot be sanctioned; unassign them first", "cannot_sanction")


async def delete_message(
    app: web.Application, conn: Connection, payload: MessageRef
) -> dict[str, Any]:
    """Delete a message; every client is told to remove it."""
    chat = app[CHAT]
    await _moderated_event(app, conn, payload)
    event_id, message_id = payload.event_id, payload.message_id
    found = await chat.cache.take_recent(event_id, message_id, remove=True)
    unflushed = wire.to_row(json.loads(found)) if found else None
    now = app[CLOCK].now()
    actor = conn.principal.user_id
    async with app[DB].acquire() as db, db.transaction():
        author = await store.delete_message(db, event_id, message_id, actor, now, unflushed)
        unpinned = author is not None and await store.unpin_if(db, event_id, message_id, now)
    if author is None:
        raise not_found("message")
    await audit.log(
        app,
        "CHAT_MESSAGE_DELETED",
        actor=actor,
        subject=message_id,
        event_id=str(event_id),
        author_id=str(author),
    )
    if unpinned:
        await chat.cache.pin(event_id, None)
        await chat.hub.emit_room(
            event_id, "message_pinned", {"event_id": str(event_id), "message": None}
        )
    await chat.hub.emit_room(
        event_id, "message_deleted", {"event_id": str(event_id), "message_id": str(message_id)}
    )
    return {"message_id": str(message_id)}


async def timeout_user(
    app: web.Application, conn: Connection, payload: TimeoutUser
) -> dict[str, Any]:
    """Stop a user from sending in this chat for N minutes (they still read it)."""
    chat = app[CHAT]
    event = await _moderated_event(app, conn, payload)
    event_id, target = payload.event_id, payload.user_id
    await _check_target(app, conn.principal, event, target)
    now = app[CLOCK].now()
    until = now + timedelta(minutes=payload.minutes)
    async with app[DB].acquire() as db:
        await store.set_timeout(
            db, uuid.uuid4(), event_id, target, until, conn.principal.user_id, now
        )
    await chat.cache.timeout(event_id, target, until.timestamp())
    await audit.log(
        app,
        "USER_TIMED_OUT",
        actor=conn.principal.user_id,
        subject=target,
        event_id=str(event_id),
        minutes=payload.minutes,
        until=wire.iso(until),
    )
    notice = {"event_id": str(event_id), "user_id": str(target), "until": wire.iso(until)}
    await chat.hub.emit_room(event_id, "user_timed_out", notice)
    return {"user_id": str(target), "until": wire.iso(until)}


async def ban_user(app: web.Application, conn: Connection, payload: UserRef) -> dict[str, Any]:
    """Ban a user from this event's chat: removed from the room on every process, kept out."""
    chat = app[CHAT]
    event = await _moderated_event(app, conn, payload)
    event_id, target = payload.event_id, payload.user_id
    await _check_target(app, conn.principal, event, target)
    async with app[DB].acquire() as db:
        created = await store.add_ban(
            db, uuid.uuid4(), event_id, target, conn.principal.user_id, app[CLOCK].now()
        )
    await chat.cache.ban(event_id, target)
    if created:
        await audit.log(
            app, "USER_BANNED", actor=conn.principal.user_id, subject=target, event_id=str(event_id)
        )
    # Kick even when already banned: it is idempotent and closes any race with a rejoin.
    await chat.bus.publish({"op": "kick", "event_id": str(event_id), "user_id": str(target)})
    await chat.hub.emit_room(
        event_id, "user_banned", {"event_id": str(event_id), "user_id": str(target)}
    )
    return {"user_id": str(target), "already_banned": not created}


async def unban_user(app: web.Application, conn: Connection, payload: UserRef) -> dict[str, Any]:
    """Lift a ban."""
    await _moderated_event(app, conn, payload)
    event_id, target = payload.event_id, payload.user_id
    async with app[DB].acquire() as db:
        lifted = await store.lift_ban(
            db, event_id, target, conn.principal.user_id, app[CLOCK].now()
        )
    if not lifted:
        raise not_found("ban")
    await app[CHAT].cache.unban(event_id, target)
    await audit.log(
        app, "USER_UNBANNED", actor=conn.principal.user_id, subject=target, event_id=str(event_id)
    )
    return {"user_id": str(target)}


async def set_slow_mode(
    app: web.Application, conn: Connection, payload: SlowMode
) -> dict[str, Any]:
    """Allow each non-moderator one message per N seconds in this room (0 turns it off)."""
    chat = app[CHAT]
    await _moderated_event(app, conn, payload)
    event_id, seconds = payload.event_id, payload.seconds
    async with app[DB].acquire() as db:
        await store.set_slow_mode(db, event_id, seconds, app[CLOCK].now())
    await chat.cache.slow_mode(event_id, seconds)
    await audit.log(
        app, "CHAT_SLOW_MODE_SET", actor=conn.principal.user_id, subject=event_id, seconds=seconds
    )
    await chat.hub.emit_room(event_id, "slow_mode", {"event_id": str(event_id), "seconds": seconds})
    return {"seconds": seconds}


async def pin_message(app: web.Application, conn: Connection, payload: Pin) -> dict[str, Any]:
    """Pin a visible message to the top of the room, or unpin with `message_id: null`."""
    chat = app[CHAT]
    await _moderated_event(app, conn, payload)
    event_id, message_id = payload.event_id, payload.message_id
    actor = conn.principal.user_id
    message: dict[str, Any] | None = None
    if message_id is not None:
        found = await chat.cache.take_recent(event_id, message_id, remove=False)
        if found:
            message = json.loads(found)
        else:
            async with app[DB].acquire() as db:
                row = await store.message(db, event_id, message_id)
            if row is None or row["deleted_at"] is not None:
                raise not_found("message")
            message = wire.from_row(row)
    async with app[DB].acquire() as db:
        await store.set_pinned(db, event_id, message_id, app[CLOCK].now())
    await chat.cache.pin(event_id, wire.encode(message) if message else None)
    if message_id is not None:
        await audit.log(
            app, "CHAT_MESSAGE_PINNED", actor=actor, subject=message_id, event_id=str(event_id)
        )
    else:
        await audit.log(app, "CHAT_MESSAGE_UNPINNED", actor=actor, subject=event_id)
    await chat.hub.emit_room(
        event_id, "message_pinned", {"event_id": str(event_id), "message": message}
    )
    return {"message": message}


# ---- REST-side operations -------------------------------------------------------------------


async def assign_moderator(
    app: web.Application, principal: Principal, event_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """The artist (or an admin) assigns a moderator; True when newly assigned."""
    ensure_owner(principal, await get_event(app, event_id))
    async with app[DB].acquire() as db:
        if await find_account(db, user_id) is None:
            raise not_found("user")
        created = await store.add_moderator(db, event_id, user_id, principal.user_id)
    await _moderators_changed(
        app, principal, event_id, user_id, "CHAT_MODERATOR_ASSIGNED" if created else None
    )
    return created


async def unassign_moderator(
    app: web.Application, principal: Principal, event_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """The artist (or an admin) removes a moderator; their sockets lose what the role gave."""
    ensure_owner(principal, await get_event(app, event_id))
    async with app[DB].acquire() as db:
        removed = await store.remove_moderator(db, event_id, user_id)
    if not removed:
        raise not_found("moderator")
    await _moderators_changed(app, principal, event_id, user_id, "CHAT_MODERATOR_REMOVED")


async def _moderators_changed(
    app: web.Application,
    actor: Principal,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    audit_kind: str | None,
) -> None:
    if audit_kind is not None:
        await audit.log(
            app, audit_kind, actor=actor.user_id, subject=user_id, event_id=str(event_id)
        )
    # Every process forgets its cached moderator set and re-decides the user's sockets; this
    # one at once, so the caller's next request here already sees the change.
    app[CHAT].lookups.moderators_changed(event_id)
    await app[CHAT].bus.publish(
        {"op": "recheck", "event_id": str(event_id), "user_id": str(user_id), "moderators": True}
    )


async def _ensure_moderates(
    app: web.Application, principal: Principal, event_id: uuid.UUID
) -> None:
    if not await can_moderate(app, principal, await get_event(app, event_id)):
        raise forbidden("only the event's moderators can see this", "not_moderator")


async def list_moderators(
    app: web.Application, principal: Principal, event_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Assigned moderators, for anyone who moderates the event."""
    await _ensure_moderates(app, principal, event_id)
    async with app[DB].acquire() as db:
        rows = await store.moderators(db, event_id)
    return [
        {
            "user_id": str(r["user_id"]),
            "assigned_by": str(r["assigned_by"]),
            "assigned_at": wire.iso(r["created_at"]),
        }
        for r in rows
    ]


async def list_sanctions(
    app: web.Application, principal: Principal, event_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Bans and running timeouts, for anyone who moderates the event."""
    await _ensure_moderates(app, principal, event_id)
    async with app[DB].acquire() as db:
        rows = await store.active_sanctions(db, event_id, app[CLOCK].now())
    return [
        {
            "user_id": str(r["user_id"]),
            "kind": r["kind"],
            "until": wire.iso(r["expires_at"]) if r["expires_at"] else None,
            "by": str(r["created_by"]),
            "at": wire.iso(r["created_at"]),
        }
        for r in rows
    ]
