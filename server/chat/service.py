"""Chat rules: who may connect and join, what a message may be, and what moderators may do."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from server import audit
from server.access import STAFF_ROLES, can_watch
from server.accounts import store as accounts_store
from server.accounts.auth import ensure_not_revoked, principal_from_token
from server.accounts.tokens import Principal
from server.chat import store
from server.chat.cache import RECENT_MAX, JoinState
from server.chat.hub import CHAT, MAX_ROOMS_PER_CONNECTION, Connection, room_of
from server.errors import ApiError, bad_request, conflict, forbidden, not_found, unauthorized
from server.keys import CLOCK, DB
from server.live.service import ensure_owner, event_json, get_event
from server.metrics import AUTH_DECISIONS

log = logging.getLogger(__name__)

HISTORY = 50
MAX_TEXT = 500
MAX_TIMEOUT_MINUTES = 7 * 24 * 60
MAX_SLOW_MODE_SECONDS = 3600
MAX_TOKEN_CHARS = 4096

# Line breaks and tabs become spaces; other C0/C1 controls, lone surrogates (which cannot be
# stored or encoded) and bidi overrides (used to spoof text direction) are dropped.
_AS_SPACE = re.compile("[\t\n\r\x0b\x0c\u2028\u2029]+")
_DROP = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


# ---- payload fields -------------------------------------------------------------------------

def invalid(message: str) -> ApiError:
    """The error for a payload of the wrong shape."""
    return bad_request(message, "invalid_payload")


def uuid_field(payload: dict[str, Any], name: str) -> uuid.UUID:
    """A required UUID string field."""
    value = payload.get(name)
    if not isinstance(value, str):
        raise invalid(f"{name} must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(f"{name} must be a UUID string") from None


def int_field(payload: dict[str, Any], name: str, low: int, high: int) -> int:
    """A required integer field within bounds (booleans and floats refused)."""
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{name} must be an integer")
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}")
    return value


def clean_text(raw: object) -> str:
    """A message body: controls stripped, trimmed, 1-500 characters, or `invalid_text`."""
    if not isinstance(raw, str):
        raise bad_request("text must be a string", "invalid_text")
    text = _DROP.sub("", _AS_SPACE.sub(" ", raw)).strip()
    if not text:
        raise bad_request("text is empty", "invalid_text")
    if len(text) > MAX_TEXT:
        raise bad_request(f"text is longer than {MAX_TEXT} characters", "invalid_text")
    return text


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def message_dict(message_id: uuid.UUID, event_id: uuid.UUID, author_id: uuid.UUID,
                 author_name: str, text: str, at: datetime) -> dict[str, Any]:
    """A message as clients see it; "id" comes first, which the Redis mirror relies on."""
    return {"id": str(message_id), "event_id": str(event_id),
            "author": {"id": str(author_id), "name": author_name}, "text": text, "ts": iso(at)}


def _encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def _from_row(row: Any) -> dict[str, Any]:
    return message_dict(row["id"], row["event_id"], row["author_id"], row["author_name"],
                        row["body"], row["created_at"])


def _to_row(message: dict[str, Any]) -> store.MessageRow:
    return (uuid.UUID(message["id"]), uuid.UUID(message["event_id"]),
            uuid.UUID(message["author"]["id"]), message["author"]["name"], message["text"],
            datetime.fromisoformat(message["ts"]))


# ---- connections ----------------------------------------------------------------------------

async def open_connection(app: web.Application, sid: str, auth: object) -> Connection:
    """Authenticate a Socket.IO connect from its `auth` payload `{"token": <access JWT>}`."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        AUTH_DECISIONS.labels("chat_connect", "denied").inc()
        raise unauthorized('send {"token": "<access token>"} as the Socket.IO auth payload')
    if len(token) > MAX_TOKEN_CHARS:
        AUTH_DECISIONS.labels("chat_connect", "denied").inc()
        raise unauthorized("access token too long", "invalid_token")
    try:
        principal = await principal_from_token(app, token)
    except ApiError:
        AUTH_DECISIONS.labels("chat_connect", "denied").inc()
        raise
    async with app[DB].acquire() as conn:
        user = await accounts_store.user_by_id(conn, principal.user_id)
    if user is None:
        AUTH_DECISIONS.labels("chat_connect", "denied").inc()
        raise unauthorized("the account no longer exists", "invalid_token")
    AUTH_DECISIONS.labels("chat_connect", "allowed").inc()
    return Connection(sid=sid, principal=principal, name=user["display_name"])


async def _ensure_fresh(app: web.Application, conn: Connection) -> None:
    """A connection outlives its token only to be told to reconnect: expiry, logout, role change."""
    if conn.principal.exp <= app[CLOCK].time():
        raise unauthorized("access token expired: reconnect with a fresh one", "token_expired")
    now = time.monotonic()
    if now - conn.checked_at >= app[CHAT].settings.revalidate_interval:
        await ensure_not_revoked(app, conn.principal)
        conn.checked_at = now


async def close_connection(app: web.Application, conn: Connection) -> None:
    """Forget a disconnected client (Socket.IO has already dropped it from its rooms)."""
    presence = app[CHAT].parts().presence
    for event_id in list(conn.rooms):
        await presence.remove(event_id, conn.principal.user_id, conn.sid)
    conn.rooms.clear()


# ---- who may do what ------------------------------------------------------------------------

async def can_moderate(app: web.Application, principal: Principal, event: Any) -> bool:
    """The event's artist, its assigned moderators, and platform moderators/admins."""
    if event["artist_id"] == principal.user_id or principal.role in STAFF_ROLES:
        return True
    async with app[DB].acquire() as conn:
        return await store.is_moderator(conn, event["id"], principal.user_id)


async def assigned_moderator_rule(app: web.Application, principal: Principal, event: Any) -> bool:
    """A watch rule: moderators assigned to an event may watch it (and so join its chat)."""
    async with app[DB].acquire() as conn:
        return await store.is_moderator(conn, event["id"], principal.user_id)


async def _moderated_event(app: web.Application, conn: Connection,
                           payload: dict[str, Any]) -> tuple[uuid.UUID, Any]:
    await _ensure_fresh(app, conn)
    event_id = uuid_field(payload, "event_id")
    event = await get_event(app, event_id)
    if not await can_moderate(app, conn.principal, event):
        raise forbidden("only the artist, the event's moderators and admins can moderate",
                        "not_moderator")
    return event_id, event


async def _check_target(app: web.Application, actor: Principal, event: Any,
                        target: uuid.UUID) -> None:
    if target == actor.user_id:
        raise forbidden("you cannot sanction yourself", "cannot_sanction")
    async with app[DB].acquire() as conn:
        user = await accounts_store.user_by_id(conn, target)
        assigned = await store.is_moderator(conn, event["id"], target)
    if user is None:
        raise not_found("user")
    if target == event["artist_id"] or user["role"] in STAFF_ROLES or assigned:
        raise forbidden("moderators cannot be sanctioned; unassign them first", "cannot_sanction")


# ---- the Redis mirror -----------------------------------------------------------------------

async def warm(app: web.Application, event_id: uuid.UUID) -> None:
    """Load an event's chat state from PostgreSQL into the Redis mirror."""
    cache = app[CHAT].parts().cache
    for _ in range(5):
        version = await cache.version(event_id)
        async with app[DB].acquire() as conn:
            sanctions = await store.active_sanctions(conn, event_id, app[CLOCK].now())
            room = await store.room(conn, event_id)
            recent = await store.recent_messages(conn, event_id, RECENT_MAX)
            pinned_id = room["pinned_message_id"] if room else None
            pinned = await store.message(conn, event_id, pinned_id) if pinned_id else None
        bans = [s["user_id"] for s in sanctions if s["kind"] == "ban"]
        timeouts = [(s["user_id"], s["expires_at"].timestamp())
                    for s in sanctions if s["kind"] == "timeout"]
        pinned_json = _encode(_from_row(pinned)) if pinned and not pinned["deleted_at"] else None
        if await cache.load(event_id, version, bans=bans, timeouts=timeouts,
                            slow_mode=room["slow_mode_seconds"] if room else 0,
                            pinned_json=pinned_json,
                            recent_json=[_encode(_from_row(r)) for r in recent]):
            return
    raise ApiError(503, "unavailable", "chat state is busy; retry")


async def _join_state(app: web.Application, event_id: uuid.UUID, user_id: uuid.UUID) -> JoinState:
    cache = app[CHAT].parts().cache
    for _ in range(3):
        state = await cache.join_state(event_id, user_id, HISTORY)
        if state is not None:
            return state
        await warm(app, event_id)
    raise ApiError(503, "unavailable", "chat state could not be loaded; retry")


# ---- client events --------------------------------------------------------------------------

async def join(app: web.Application, conn: Connection, payload: dict[str, Any]) -> dict[str, Any]:
    """Enter an event's room; returns its state and the last 50 visible messages."""
    await _ensure_fresh(app, conn)
    event_id = uuid_field(payload, "event_id")
    if event_id in conn.joining:
        raise conflict("already joining this event", "join_in_progress")
    if event_id not in conn.rooms and len(conn.rooms | conn.joining) >= MAX_ROOMS_PER_CONNECTION:
        raise conflict(f"a connection joins at most {MAX_ROOMS_PER_CONNECTION} rooms",
                       "too_many_rooms")
    conn.joining.add(event_id)
    try:
        return await _join(app, conn, event_id)
    finally:
        conn.joining.discard(event_id)


async def _join(app: web.Application, conn: Connection, event_id: uuid.UUID) -> dict[str, Any]:
    hub = app[CHAT]
    presence = hub.parts().presence
    event = await get_event(app, event_id)
    if event["status"] == "cancelled":
        raise ApiError(410, "event_cancelled", "the event was cancelled")
    if not await can_watch(app, conn.principal, event):
        raise forbidden("you have no access to this event", "no_access")
    moderator = await can_moderate(app, conn.principal, event)
    if conn.closed:
        raise ApiError(409, "not_connected", "the connection closed while joining")
    user_id = conn.principal.user_id
    # Enter (and be findable by a kick) before reading the ban list: a ban committed after
    # the read then finds this connection and removes it, so none slips between check and entry.
    await hub.sio.enter_room(conn.sid, room_of(event_id))
    conn.rooms.add(event_id)
    try:
        await presence.add(event_id, user_id, conn.sid)
        if conn.closed:  # disconnected during the awaits above: undo, or it stays counted
            raise ApiError(409, "not_connected", "the connection closed while joining")
        state = await _join_state(app, event_id, user_id)
        if state.banned:
            raise forbidden("you are banned from this chat", "banned")
    except BaseException:
        await leave_room(app, conn, event_id)
        raise
    if moderator:
        conn.moderates.add(event_id)
    else:
        conn.moderates.discard(event_id)
    now = app[CLOCK].time()
    until = state.timed_out_until
    return {
        "event": event_json(event),
        "messages": [json.loads(m) for m in state.recent_json],
        "pinned": json.loads(state.pinned_json) if state.pinned_json else None,
        "slow_mode": state.slow_mode,
        "viewers": await presence.count(event_id),
        "moderator": moderator,
        "timed_out_until": iso(datetime.fromtimestamp(until, UTC)) if until > now else None,
    }


async def leave_room(app: web.Application, conn: Connection, event_id: uuid.UUID) -> None:
    """Take one of this process's connections out of a room."""
    hub = app[CHAT]
    conn.rooms.discard(event_id)
    conn.moderates.discard(event_id)
    await hub.sio.leave_room(conn.sid, room_of(event_id))
    await hub.parts().presence.remove(event_id, conn.principal.user_id, conn.sid)


async def leave(app: web.Application, conn: Connection, payload: dict[str, Any]) -> dict[str, Any]:
    """Leave an event's room (a no-op when not in it)."""
    event_id = uuid_field(payload, "event_id")
    if event_id in conn.rooms:
        await leave_room(app, conn, event_id)
    return {}


async def send(app: web.Application, conn: Connection, payload: dict[str, Any]) -> dict[str, Any]:
    """Post a message to a joined room: checked, kept in Redis, queued for PostgreSQL, broadcast."""
    hub = app[CHAT]
    cache, writer, _, _ = hub.parts()
    await _ensure_fresh(app, conn)
    event_id = uuid_field(payload, "event_id")
    if event_id not in conn.rooms:
        raise conflict("join the event's chat first", "not_joined")
    text = clean_text(payload.get("text"))
    now = app[CLOCK].now()
    user_id = conn.principal.user_id
    message_id = uuid.uuid4()
    message = message_dict(message_id, event_id, user_id, conn.name, text, now)
    encoded = _encode(message)
    settings = hub.settings
    for _ in range(3):
        outcome, detail = await cache.admit(event_id, user_id, now.timestamp(),
                                            event_id in conn.moderates, settings.rate_burst,
                                            settings.rate_per_second, encoded)
        if outcome != "cold":
            break
        await warm(app, event_id)
    if outcome == "ok":
        writer.enqueue((message_id, event_id, user_id, conn.name, text, now))
        await hub.emit_room(event_id, "message", message)
        return {"message": message}
    if outcome == "banned":
        raise forbidden("you are banned from this chat", "banned")
    if outcome == "timed_out":
        until = iso(datetime.fromtimestamp(detail, UTC))
        raise ApiError(403, "timed_out", f"you are timed out until {until}", until=until)
    if outcome == "slow_mode":
        raise ApiError(429, "slow_mode", "slow mode is on: wait before sending again",
                       retry_after_ms=int(detail))
    if outcome == "rate_limited":
        raise ApiError(429, "rate_limited", "too many messages: wait before sending again",
                       retry_after_ms=int(detail))
    raise ApiError(503, "unavailable", "chat state could not be loaded; retry")


# ---- moderation -----------------------------------------------------------------------------

async def delete_message(app: web.Application, conn: Connection,
                         payload: dict[str, Any]) -> dict[str, Any]:
    """Delete a message; every client is told to remove it."""
    hub = app[CHAT]
    cache = hub.parts().cache
    event_id, _ = await _moderated_event(app, conn, payload)
    message_id = uuid_field(payload, "message_id")
    found = await cache.take_recent(event_id, message_id, remove=True)
    unflushed = _to_row(json.loads(found)) if found else None
    now = app[CLOCK].now()
    actor = conn.principal.user_id
    async with app[DB].acquire() as db, db.transaction():
        author = await store.delete_message(db, event_id, message_id, actor, now, unflushed)
        unpinned = author is not None and await store.unpin_if(db, event_id, message_id, now)
    if author is None:
        raise not_found("message")
    await audit.log(app, "CHAT_MESSAGE_DELETED", actor=actor, subject=message_id,
                    event_id=str(event_id), author_id=str(author))
    if unpinned:
        await cache.pin(event_id, None)
        await hub.emit_room(event_id, "message_pinned", {"event_id": str(event_id),
                                                         "message": None})
    await hub.emit_room(event_id, "message_deleted", {"event_id": str(event_id),
                                                      "message_id": str(message_id)})
    return {"message_id": str(message_id)}


async def timeout_user(app: web.Application, conn: Connection,
                       payload: dict[str, Any]) -> dict[str, Any]:
    """Stop a user from sending in this chat for N minutes (they still read it)."""
    hub = app[CHAT]
    cache = hub.parts().cache
    event_id, event = await _moderated_event(app, conn, payload)
    target = uuid_field(payload, "user_id")
    minutes = int_field(payload, "minutes", 1, MAX_TIMEOUT_MINUTES)
    await _check_target(app, conn.principal, event, target)
    now = app[CLOCK].now()
    until = now + timedelta(minutes=minutes)
    async with app[DB].acquire() as db:
        await store.set_timeout(db, uuid.uuid4(), event_id, target, until, conn.principal.user_id,
                                now)
    await cache.timeout(event_id, target, until.timestamp())
    await audit.log(app, "USER_TIMED_OUT", actor=conn.principal.user_id, subject=target,
                    event_id=str(event_id), minutes=minutes, until=iso(until))
    notice = {"event_id": str(event_id), "user_id": str(target), "until": iso(until)}
    await hub.emit_room(event_id, "user_timed_out", notice)
    return {"user_id": str(target), "until": iso(until)}


async def ban_user(app: web.Application, conn: Connection,
                   payload: dict[str, Any]) -> dict[str, Any]:
    """Ban a user from this event's chat: removed from the room on every process, kept out."""
    hub = app[CHAT]
    cache, _, _, bus = hub.parts()
    event_id, event = await _moderated_event(app, conn, payload)
    target = uuid_field(payload, "user_id")
    await _check_target(app, conn.principal, event, target)
    async with app[DB].acquire() as db:
        created = await store.add_ban(db, uuid.uuid4(), event_id, target, conn.principal.user_id,
                                      app[CLOCK].now())
    await cache.ban(event_id, target)
    if created:
        await audit.log(app, "USER_BANNED", actor=conn.principal.user_id, subject=target,
                        event_id=str(event_id))
    # Kick even when already banned: it is idempotent and closes any race with a rejoin.
    await bus.publish({"op": "kick", "event_id": str(event_id), "user_id": str(target)})
    await hub.emit_room(event_id, "user_banned", {"event_id": str(event_id),
                                                  "user_id": str(target)})
    return {"user_id": str(target), "already_banned": not created}


async def unban_user(app: web.Application, conn: Connection,
                     payload: dict[str, Any]) -> dict[str, Any]:
    """Lift a ban."""
    cache = app[CHAT].parts().cache
    event_id, _ = await _moderated_event(app, conn, payload)
    target = uuid_field(payload, "user_id")
    async with app[DB].acquire() as db:
        lifted = await store.lift_ban(db, event_id, target, conn.principal.user_id,
                                      app[CLOCK].now())
    if not lifted:
        raise not_found("ban")
    await cache.unban(event_id, target)
    await audit.log(app, "USER_UNBANNED", actor=conn.principal.user_id, subject=target,
                    event_id=str(event_id))
    return {"user_id": str(target)}


async def set_slow_mode(app: web.Application, conn: Connection,
                        payload: dict[str, Any]) -> dict[str, Any]:
    """Allow each non-moderator one message per N seconds in this room (0 turns it off)."""
    hub = app[CHAT]
    cache = hub.parts().cache
    event_id, _ = await _moderated_event(app, conn, payload)
    seconds = int_field(payload, "seconds", 0, MAX_SLOW_MODE_SECONDS)
    async with app[DB].acquire() as db:
        await store.set_slow_mode(db, event_id, seconds, app[CLOCK].now())
    await cache.slow_mode(event_id, seconds)
    await audit.log(app, "CHAT_SLOW_MODE_SET", actor=conn.principal.user_id, subject=event_id,
                    seconds=seconds)
    await hub.emit_room(event_id, "slow_mode", {"event_id": str(event_id), "seconds": seconds})
    return {"seconds": seconds}


async def pin_message(app: web.Application, conn: Connection,
                      payload: dict[str, Any]) -> dict[str, Any]:
    """Pin a visible message to the top of the room, or unpin with `message_id: null`."""
    hub = app[CHAT]
    cache = hub.parts().cache
    event_id, _ = await _moderated_event(app, conn, payload)
    actor = conn.principal.user_id
    message: dict[str, Any] | None = None
    message_id: uuid.UUID | None = None
    if payload.get("message_id") is not None:
        message_id = uuid_field(payload, "message_id")
        found = await cache.take_recent(event_id, message_id, remove=False)
        if found:
            message = json.loads(found)
        else:
            async with app[DB].acquire() as db:
                row = await store.message(db, event_id, message_id)
            if row is None or row["deleted_at"] is not None:
                raise not_found("message")
            message = _from_row(row)
    elif "message_id" not in payload:
        raise invalid("message_id is required (null unpins)")
    async with app[DB].acquire() as db:
        await store.set_pinned(db, event_id, message_id, app[CLOCK].now())
    await cache.pin(event_id, _encode(message) if message else None)
    if message_id is not None:
        await audit.log(app, "CHAT_MESSAGE_PINNED", actor=actor, subject=message_id,
                        event_id=str(event_id))
    else:
        await audit.log(app, "CHAT_MESSAGE_UNPINNED", actor=actor, subject=event_id)
    await hub.emit_room(event_id, "message_pinned", {"event_id": str(event_id),
                                                     "message": message})
    return {"message": message}


# ---- REST-side operations -------------------------------------------------------------------

async def assign_moderator(app: web.Application, principal: Principal, event_id: uuid.UUID,
                           user_id: uuid.UUID) -> bool:
    """The artist (or an admin) assigns a moderator; True when newly assigned."""
    ensure_owner(principal, await get_event(app, event_id))
    async with app[DB].acquire() as db:
        if await accounts_store.user_by_id(db, user_id) is None:
            raise not_found("user")
        created = await store.add_moderator(db, event_id, user_id, principal.user_id)
    if created:
        await audit.log(app, "CHAT_MODERATOR_ASSIGNED", actor=principal.user_id, subject=user_id,
                        event_id=str(event_id))
    return created


async def unassign_moderator(app: web.Application, principal: Principal, event_id: uuid.UUID,
                             user_id: uuid.UUID) -> None:
    """The artist (or an admin) removes a moderator."""
    ensure_owner(principal, await get_event(app, event_id))
    async with app[DB].acquire() as db:
        removed = await store.remove_moderator(db, event_id, user_id)
    if not removed:
        raise not_found("moderator")
    await audit.log(app, "CHAT_MODERATOR_REMOVED", actor=principal.user_id, subject=user_id,
                    event_id=str(event_id))


async def list_moderators(app: web.Application, principal: Principal,
                          event_id: uuid.UUID) -> list[dict[str, Any]]:
    """Assigned moderators, for anyone who moderates the event."""
    event = await get_event(app, event_id)
    if not await can_moderate(app, principal, event):
        raise forbidden("only the event's moderators can see this", "not_moderator")
    async with app[DB].acquire() as db:
        rows = await store.moderators(db, event_id)
    return [{"user_id": str(r["user_id"]), "assigned_by": str(r["assigned_by"]),
             "assigned_at": iso(r["created_at"])} for r in rows]


async def list_sanctions(app: web.Application, principal: Principal,
                         event_id: uuid.UUID) -> list[dict[str, Any]]:
    """Bans and running timeouts, for anyone who moderates the event."""
    event = await get_event(app, event_id)
    if not await can_moderate(app, principal, event):
        raise forbidden("only the event's moderators can see this", "not_moderator")
    async with app[DB].acquire() as db:
        rows = await store.active_sanctions(db, event_id, app[CLOCK].now())
    return [{"user_id": str(r["user_id"]), "kind": r["kind"],
             "until": iso(r["expires_at"]) if r["expires_at"] else None,
             "by": str(r["created_by"]), "at": iso(r["created_at"])} for r in rows]


async def history(app: web.Application, principal: Principal,
                  event_id: uuid.UUID) -> list[dict[str, Any]]:
    """The last 50 visible messages, for anyone who may watch the event."""
    event = await get_event(app, event_id)
    if not await can_watch(app, principal, event):
        raise forbidden("you have no access to this event", "no_access")
    state = await _join_state(app, event_id, principal.user_id)
    return [json.loads(m) for m in state.recent_json]


async def viewers(app: web.Application, event_id: uuid.UUID) -> int:
    """Distinct users in the event's room across all processes."""
    await get_event(app, event_id)
    return await app[CHAT].parts().presence.count(event_id)


# ---- cross-process notices ------------------------------------------------------------------

async def on_control(app: web.Application, message: dict[str, Any]) -> None:
    """Act on a control message for this process's connections."""
    hub = app[CHAT]
    presence = hub.parts().presence
    op = message.get("op")
    event_id = uuid.UUID(str(message["event_id"]))
    if op == "kick":
        user_id = uuid.UUID(str(message["user_id"]))
        sids, notice = presence.local_sids(event_id, user_id), "banned"
    elif op == "close":
        sids, notice = presence.local_sids(event_id), "event_cancelled"
    else:
        log.warning("unknown chat control op %r", op)
        return
    for sid in sids:
        conn = hub.connections.get(sid)
        # Told here, before leaving, because the room broadcast may arrive after the removal.
        await hub.sio.emit(notice, {"event_id": str(event_id)}, to=sid, ignore_queue=True)
        if conn is not None:
            await leave_room(app, conn, event_id)


STATUS_EVENTS = {"live": "stream_started", "ended": "stream_ended"}


async def on_status(app: web.Application, event_id: uuid.UUID, status: str) -> None:
    """Tell an event's room that its stream started or ended, or close it when cancelled."""
    hub = app[CHAT]
    if hub.bus is None:
        return
    try:
        if status == "cancelled":
            await hub.bus.publish({"op": "close", "event_id": str(event_id)})
        elif status in STATUS_EVENTS:
            await hub.emit_room(event_id, STATUS_EVENTS[status],
                                {"event_id": str(event_id), "status": status})
    except Exception:  # the nginx hook that triggered this must not fail over a notice
        log.exception("chat status notice for %s failed", event_id)
