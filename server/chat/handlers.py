"""The Socket.IO server and its event handlers: parse, call the service, reply through the ack."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web

from server.chat import service
from server.chat.fanout import ChatLocalManager, ChatRedisManager
from server.chat.hub import CHAT, Connection
from server.chat.metrics import CONNECTIONS, CONNECTS, EVENTS, HANDLE_SECONDS
from server.chat.settings import ChatSettings
from server.config import Config
from server.errors import ApiError, bad_request

log = logging.getLogger(__name__)

# Connects authenticate against Redis and PostgreSQL; a reconnect storm of thousands of
# fans is let through this many at a time rather than exhausting either pool.
CONNECT_CONCURRENCY = 32

Operation = Callable[[web.Application, Connection, dict[str, Any]], Awaitable[dict[str, Any]]]

# Client events and what handles them; each replies through its ack.
OPERATIONS: dict[str, Operation] = {
    "join": service.join,
    "leave": service.leave,
    "send": service.send,
    "delete": service.delete_message,
    "timeout": service.timeout_user,
    "ban": service.ban_user,
    "unban": service.unban_user,
    "slow_mode": service.set_slow_mode,
    "pin": service.pin_message,
}


def _origin_check(settings: ChatSettings) -> Callable[[str | None, dict[str, Any]], bool] | str:
    if settings.cors_origins == "*":
        return "*"
    allowed = set(settings.cors_origins)

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        """Configured origins, plus the server's own (a page it served itself)."""
        if origin is None or origin in allowed:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own

    return check


def create_server(config: Config, settings: ChatSettings) -> socketio.AsyncServer:
    """A Socket.IO server; with REDIS_URL, rooms span every process on the same Redis."""
    manager = (ChatRedisManager(config.redis_url, channel=settings.channel)
               if config.redis_url else ChatLocalManager())
    return socketio.AsyncServer(
        async_mode="aiohttp", client_manager=manager,
        max_http_buffer_size=settings.max_payload_bytes,
        cors_allowed_origins=_origin_check(settings),
        logger=False, engineio_logger=False,
    )


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler(app: web.Application, name: str, operation: Operation) -> Callable[..., Any]:
    hub = app[CHAT]

    async def handle(sid: str, *args: Any) -> dict[str, Any]:
        start = time.perf_counter()
        outcome = "ok"
        try:
            conn = hub.connections.get(sid)
            if conn is None:
                raise ApiError(401, "not_connected", "the connection is not authenticated")
            if not conn.allow_event():
                raise ApiError(429, "too_many_events", "too many events on this connection")
            # Exactly one JSON object: extra or missing arguments are a client bug, not a crash.
            if len(args) != 1 or not isinstance(args[0], dict):
                raise bad_request("expected one JSON object as the payload", "invalid_payload")
            result = await operation(app, conn, args[0])
            return {"ok": True, **result}
        except ApiError as exc:
            outcome = exc.code
            return exc.body()
        except Exception:
            outcome = "internal"
            log.exception("chat event %s failed", name)
            return _error("internal", "internal error")
        finally:
            EVENTS.labels(name, outcome).inc()
            HANDLE_SECONDS.labels(name).observe(time.perf_counter() - start)

    handle.__name__ = f"on_{name}"
    return handle


def register(app: web.Application) -> None:
    """Install the connect/disconnect handlers and every client event on the app's server."""
    hub = app[CHAT]
    sio = hub.sio
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            async with gate:
                conn = await service.open_connection(app, sid, auth)
        except ApiError as exc:
            CONNECTS.labels(exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(exc.message,
                                                              {"code": exc.code}) from None
        except Exception:
            CONNECTS.labels("internal").inc()
            log.exception("chat connect failed")
            raise socketio.exceptions.ConnectionRefusedError("internal error",
                                                              {"code": "internal"}) from None
        hub.connections[sid] = conn
        CONNECTS.labels("ok").inc()
        CONNECTIONS.inc()

    async def disconnect(sid: str, reason: Any = None) -> None:
        conn = hub.connections.pop(sid, None)
        if conn is None:
            return
        conn.closed = True
        CONNECTIONS.dec()
        try:
            await service.close_connection(app, conn)
        except Exception:  # presence self-heals through expiry; never fail a disconnect
            log.exception("chat disconnect cleanup failed")

    async def unknown(event: str, sid: str, *args: Any) -> dict[str, Any]:
        EVENTS.labels("unknown", "unknown_event").inc()
        return _error("unknown_event", "unknown event")

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    for name, operation in OPERATIONS.items():
        sio.on(name, _handler(app, name, operation))
    sio.on("*", unknown)
