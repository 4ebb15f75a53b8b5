"""Connections: who may open a chat socket, how long its token holds, and closing it."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from aiohttp import web

from server.accounts.auth import decode_token, ensure_not_revoked
from server.chat.hub import CHAT, HUB, Connection
from server.errors import ApiError, unauthorized
from server.keys import CLOCK
from server.metrics import AUTH_DECISIONS

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 4096


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
        principal = decode_token(app, token)
        # The revocation check (Redis) and the name (PostgreSQL) are independent reads.
        revoked, name = await asyncio.gather(
            ensure_not_revoked(app, principal),
            app[CHAT].lookups.display_name(principal.user_id),
            return_exceptions=True,
        )
        if isinstance(revoked, BaseException):
            raise revoked
        if isinstance(name, BaseException):
            raise name
    except ApiError:
        AUTH_DECISIONS.labels("chat_connect", "denied").inc()
        raise
    if name is None:
        AUTH_DECISIONS.labels("chat_connect", "denied").inc()
        raise unauthorized("the account no longer exists", "invalid_token")
    AUTH_DECISIONS.labels("chat_connect", "allowed").inc()
    return Connection(sid=sid, principal=principal, name=name)


async def ensure_fresh(app: web.Application, conn: Connection) -> None:
    """A connection outlives its token only to be told to reconnect: expiry, logout, role change."""
    if conn.principal.exp <= app[CLOCK].time():
        raise unauthorized("access token expired: reconnect with a fresh one", "token_expired")
    now = time.monotonic()
    if now - conn.checked_at >= app[HUB].settings.revalidate_interval:
        await ensure_not_revoked(app, conn.principal)
        conn.checked_at = now


async def close_connection(app: web.Application, conn: Connection) -> None:
    """Forget a disconnected client (Socket.IO has already dropped it from its rooms)."""
    presence = app[CHAT].presence
    for event_id in list(conn.rooms):
        await presence.remove(event_id, conn.principal.user_id, conn.sid)
    conn.rooms.clear()


async def drop_revoked(app: web.Application, user_id: uuid.UUID, jti: str | None) -> None:
    """Disconnect this process's sockets opened with a revoked token (all of a user's if no jti).

    Listen-only sockets never present their token again, so a logout or role change would
    otherwise leave them reading the chat until they disconnect on their own.
    """
    hub = app[HUB]
    for sid, conn in list(hub.connections.items()):
        if conn.principal.user_id != user_id or (jti is not None and conn.principal.jti != jti):
            continue
        try:
            await hub.sio.emit(
                "token_revoked", {"user_id": str(user_id)}, to=sid, ignore_queue=True
            )
            await hub.sio.disconnect(sid, ignore_queue=True)
        except Exception:  # one socket's failure must not spare the others
            log.exception("disconnecting revoked socket %s failed", sid)
