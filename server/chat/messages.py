"""Messages: posting to a room, checked and mirrored in Redis, written to PostgreSQL in batches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from server.chat import wire
from server.chat.connections import ensure_fresh
from server.chat.hub import CHAT, Connection
from server.chat.payloads import SendMessage
from server.chat.rooms import warm
from server.errors import ApiError, conflict, forbidden
from server.keys import CLOCK


async def send(app: web.Application, conn: Connection, payload: SendMessage) -> dict[str, Any]:
    """Post a message to a joined room: checked, kept in Redis, queued for PostgreSQL, broadcast."""
    chat = app[CHAT]
    await ensure_fresh(app, conn)
    event_id = payload.event_id
    if event_id not in conn.rooms:
        raise conflict("join the event's chat first", "not_joined")
    now = app[CLOCK].now()
    user_id = conn.principal.user_id
    message_id = uuid.uuid4()
    message = wire.message_dict(message_id, event_id, user_id, conn.name, payload.text, now)
    encoded = wire.encode(message)
    outcome, detail = "cold", 0.0
    for _ in range(3):
        outcome, detail = await chat.cache.admit(
            event_id,
            user_id,
            now.timestamp(),
            event_id in conn.moderates,
            chat.message_limit,
            encoded,
        )
        if outcome != "cold":
            break
        await warm(app, event_id)
    if outcome == "ok":
        chat.writer.enqueue((message_id, event_id, user_id, conn.name, payload.text, now))
        await chat.hub.emit_room(event_id, "message", message)
        return {"message": message}
    if outcome == "banned":
        raise forbidden("you are banned from this chat", "banned")
    if outcome == "timed_out":
        until = wire.iso(datetime.fromtimestamp(detail, UTC))
        raise ApiError(403, "timed_out", f"you are timed out until {until}", until=until)
    if outcome == "slow_mode":
        raise ApiError(
            429,
            "slow_mode",
            "slow mode is on: wait before sending again",
            retry_after_ms=int(detail),
        )
    if outcome == "rate_limited":
        raise ApiError(
            429,
            "rate_limited",
            "too many messages: wait before sending again",
            retry_after_ms=int(detail),
        )
    raise ApiError(503, "unavailable", "chat state could not be loaded; retry")


async def highlight(
    app: web.Application,
    event_id: uuid.UUID,
    author_id: uuid.UUID,
    author_name: str,
    text: str,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """Post a highlighted message on someone's behalf (a paid tip): no rate limit or slow mode
    applies, it is kept like any message and broadcast with a `highlight` field."""
    chat = app[CHAT]
    now = app[CLOCK].now()
    message_id = uuid.uuid4()
    message = {
        **wire.message_dict(message_id, event_id, author_id, author_name, text, now),
        "highlight": detail,
    }
    if text:
        chat.writer.enqueue((message_id, event_id, author_id, author_name, text, now))
    await chat.hub.emit_room(event_id, "message", message)
    return message
