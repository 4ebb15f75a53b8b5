"""The Socket.IO server and its handlers: parse the payload, call the operation, ack the result."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import engineio
import socketio
from aiohttp import web

from server.chat import connections, messages, moderation, rooms
from server.chat.direct import ChatEngineServer
from server.chat.fanout import ChatLocalManager, ChatRedisManager
from server.chat.hub import HUB, Connection, user_room
from server.chat.metrics import CONNECTIONS, CONNECTS, EVENTS, HANDLE_SECONDS
from server.chat.payloads import (
    EventRef,
    MessageRef,
    Payload,
    Pin,
    SendMessage,
    SlowMode,
    TimeoutUser,
    UserRef,
    parse,
)
from server.chat.settings import ChatSettings
from server.config import Config
from server.errors import ApiError

log = logging.getLogger(__name__)

# Connects authenticate against Redis and PostgreSQL; a reconnect storm of thousands of
# fans is let through this many at a time rather than exhausting either pool.
CONNECT_CONCURRENCY = 64

# Names the Socket.IO protocol gives meaning to. python-socketio dispatches a client event
# called "disconnect" to the disconnect handler, which would let a client drop itself from
# the server's books while its socket stays in the room; none of these is a client event.
RESERVED_EVENTS = frozenset(
    {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "error",
        "message",
        "ping",
        "pong",
        "*",
    }
)


@dataclass(frozen=True)
class Operation:
    """A client event: its payload type and what handles it."""

    payload: type[Payload]
    run: Callable[[web.Application, Connection, Any], Awaitable[dict[str, Any]]]


# Client events and what handles them; each replies through its ack.
OPERATIONS: dict[str, Operation] = {
    "join": Operation(EventRef, rooms.join),
    "leave": Operation(EventRef, rooms.leave),
    "send": Operation(SendMessage, messages.send),
    "delete": Operation(MessageRef, moderation.delete_message),
    "timeout": Operation(TimeoutUser, moderation.timeout_user),
    "ban": Operation(UserRef, moderation.ban_user),
    "unban": Operation(UserRef, moderation.unban_user),
    "slow_mode": Operation(SlowMode, moderation.set_slow_mode),
    "pin": Operation(Pin, moderation.pin_message),
}


class ChatServer(socketio.AsyncServer):  # type: ignore[misc]
    """The Socket.IO server, refusing client events that carry a reserved name."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return ChatEngineServer

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, id: int | None, data: list[Any]
    ) -> None:
        event = data[0] if data else None
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            EVENTS.labels("reserved", "reserved_event").inc()
            if id is not None:  # answer the ack so the client is not left waiting
                await self._send_packet(
                    eio_sid,
                    self.packet_class(
                        socketio.packet.ACK,
                        namespace=namespace or "/",
                        id=id,
                        data=[_error("reserved_event", "reserved event name")],
                    ),
                )
            return
        await super()._handle_event(eio_sid, namespace, id, data)


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


def create_server(config: Config, settings: ChatSettings) -> ChatServer:
    """A Socket.IO server; with REDIS_URL, rooms span every process on the same Redis."""
    manager = (
        ChatRedisManager(config.redis_url, channel=settings.channel)
        if config.redis_url
        else ChatLocalManager()
    )
    return ChatServer(
        async_mode="aiohttp",
        client_manager=manager,
        max_http_buffer_size=settings.max_payload_bytes,
        cors_allowed_origins=_origin_check(settings),
        logger=False,
        engineio_logger=False,
    )


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler(app: web.Application, name: str, operation: Operation) -> Callable[..., Any]:
    hub = app[HUB]

    async def handle(sid: str, *args: Any) -> dict[str, Any]:
        start = time.perf_counter()
        outcome = "ok"
        try:
            conn = hub.connections.get(sid)
            if conn is None:
                raise ApiError(401, "not_connected", "the connection is not authenticated")
            if not conn.allow_event():
                raise ApiError(429, "too_many_events", "too many events on this connection")
            result = await operation.run(app, conn, parse(operation.payload, args))
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


def add_operation(
    app: web.Application,
    name: str,
    payload: type[Payload],
    run: Callable[[web.Application, Connection, Any], Awaitable[dict[str, Any]]],
) -> None:
    """Serve another package's client event on the chat's server, under the chat's rules:
    an authenticated connection, its event budget, typed payloads, acks and metrics."""
    assert name not in RESERVED_EVENTS and name not in OPERATIONS, f"{name} is taken"
    app[HUB].sio.on(name, _handler(app, name, Operation(payload, run)))


def register(app: web.Application) -> None:
    """Install the connect/disconnect handlers and every client event on the app's server."""
    hub = app[HUB]
    sio = hub.sio
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            async with gate:
                conn = await connections.open_connection(app, sid, auth)
        except ApiError as exc:
            CONNECTS.labels(exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(
                exc.message, {"code": exc.code}
            ) from None
        except Exception:
            CONNECTS.labels("internal").inc()
            log.exception("chat connect failed")
            raise socketio.exceptions.ConnectionRefusedError(
                "internal error", {"code": "internal"}
            ) from None
        hub.connections[sid] = conn
        await sio.enter_room(sid, user_room(conn.principal.user_id))
        CONNECTS.labels("ok").inc()
        CONNECTIONS.inc()

    async def disconnect(sid: str, reason: Any = None) -> None:
        # Socket.IO marks a socket as leaving before calling this; a socket it still counts
        # as connected is not going away, whatever reached here.
        if sio.manager.is_connected(sid, "/"):
            log.warning("disconnect handler called for connected socket %s; ignored", sid)
            return
        conn = hub.connections.pop(sid, None)
        if conn is None:
            return
        conn.closed = True
        CONNECTIONS.dec()
        try:
            await connections.close_connection(app, conn)
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
