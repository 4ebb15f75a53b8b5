"""Notices between chat processes (kicks, closes, re-checks, revoked tokens) and their hooks.

Each process acts on its own sockets, found by Socket.IO's room membership: a client cannot
talk its way out of a kick. The hooks are how the rest of the system tells the chat that a
user's rights changed: a status change of an event, a ticket refunded or revoked, a token
logged out or a role changed.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web

from server.chat import connections, rooms
from server.chat.hub import CHAT

log = logging.getLogger(__name__)

STATUS_EVENTS = {"live": "stream_started", "ended": "stream_ended"}


async def on_control(app: web.Application, message: dict[str, Any]) -> None:
    """Act on a control message for this process's connections."""
    lookups = app[CHAT].lookups
    op = message.get("op")
    user_id = uuid.UUID(str(message["user_id"])) if message.get("user_id") else None
    if op == "revoke" and user_id is not None:
        await connections.drop_revoked(app, user_id, message.get("jti"))
        return
    event_id = uuid.UUID(str(message["event_id"]))
    if op == "kick" and user_id is not None:
        await rooms.remove(app, event_id, "banned", user_id)
    elif op == "close":
        lookups.event_changed(event_id)
        await rooms.remove(app, event_id, "event_cancelled")
    elif op == "changed":
        lookups.event_changed(event_id)
    elif op == "recheck" and user_id is not None:
        if message.get("moderators"):
            lookups.moderators_changed(event_id)
        await rooms.recheck(app, event_id, user_id)
    else:
        log.warning("unknown chat control op %r", op)


async def _publish(app: web.Application, message: dict[str, Any]) -> None:
    if CHAT not in app:  # not started (or already stopped): no sockets to tell
        return
    try:
        await app[CHAT].bus.publish(message)
    except Exception:  # the change that called this is committed; never fail it over a notice
        log.exception("chat notice %s failed", message.get("op"))


async def on_status(app: web.Application, event_id: uuid.UUID, status: str) -> None:
    """Tell an event's room that its stream started or ended, or close it when cancelled."""
    if CHAT not in app:
        return
    chat = app[CHAT]
    chat.lookups.event_changed(event_id)
    if status == "cancelled":
        await _publish(app, {"op": "close", "event_id": str(event_id)})
        return
    await _publish(app, {"op": "changed", "event_id": str(event_id)})
    if status in STATUS_EVENTS:
        try:
            await chat.hub.emit_room(
                event_id, STATUS_EVENTS[status], {"event_id": str(event_id), "status": status}
            )
        except Exception:  # the nginx hook that triggered this must not fail over a notice
            log.exception("chat status notice for %s failed", event_id)


async def on_viewer_revoked(app: web.Application, user_id: uuid.UUID, event_id: uuid.UUID) -> None:
    """A viewer's access to an event was taken back (refund, chargeback): re-check their rooms."""
    await _publish(app, {"op": "recheck", "event_id": str(event_id), "user_id": str(user_id)})


async def on_tokens_revoked(app: web.Application, user_id: uuid.UUID, jti: str | None) -> None:
    """A token was logged out (`jti`), or all of a user's were (role change): drop their sockets."""
    await _publish(app, {"op": "revoke", "user_id": str(user_id), "jti": jti})
