"""Live chat over Socket.IO: rooms per event, moderation, presence, shared across processes.

Split by concern: `connections` (who may connect, token freshness), `rooms` (join, leave, the
Redis mirror, removals), `messages` (posting), `moderation` (sanctions, pins, moderators),
`control` (notices between processes and the hooks other packages call), `handlers` (the
Socket.IO server: typed `payloads` in, acks out). `setup` mounts the server; the runtime
(`CHAT`, a `ChatRuntime`) is built when the app starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import uuid
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

from server.access import WATCH_RULES
from server.accounts.auth import REVOCATION_LISTENERS
from server.chat import control, handlers, rooms
from server.chat.bus import ControlBus
from server.chat.cache import ChatCache
from server.chat.hub import CHAT, HUB, ChatHub, ChatRuntime, room_of
from server.chat.lookups import Lookups
from server.chat.presence import Presence
from server.chat.routes import routes
from server.chat.settings import load_settings
from server.chat.writer import MessageWriter
from server.keys import CONFIG, DB
from server.live.service import STATUS_LISTENERS
from server.playback.service import VIEWER_REVOKED_LISTENERS

log = logging.getLogger(__name__)

__all__ = ["CHAT", "HUB", "setup"]

_SHUTDOWN_FLUSH_SECONDS = 10.0
# The chat's own Redis connections: a blocking pool, so a storm of joins or disconnects
# waits for a connection instead of failing with "too many connections".
_REDIS_CONNECTIONS = 64
_REDIS_WAIT_SECONDS = 10.0
_DEFAULT_GC_THRESHOLD = (700, 10, 10)
_GC_YOUNG_THRESHOLD = 20_000


def _tune_gc() -> None:
    """Let the fan-out's short-lived objects die young instead of forcing full collections.

    A broadcast to a big room allocates per-recipient objects that live a few milliseconds.
    With CPython's default young threshold (700 allocations) they survive into the old
    generation, which then fills fast enough to trigger a full collection about every
    second: a ~150 ms stall with a thousand fans connected. A larger young generation
    removes those stalls. Left alone if the process already chose its own thresholds.
    """
    if gc.get_threshold() == _DEFAULT_GC_THRESHOLD:
        gc.set_threshold(_GC_YOUNG_THRESHOLD, *_DEFAULT_GC_THRESHOLD[1:])


async def _disconnect_all(app: web.Application) -> None:
    """Close every socket first, so the web server's shutdown does not wait on open websockets."""
    hub = app[HUB]
    for sid in list(hub.connections):
        with contextlib.suppress(Exception):
            await hub.sio.disconnect(sid, ignore_queue=True)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    hub = app[HUB]
    settings = hub.settings
    url = app[CONFIG].redis_url
    if not url:
        raise RuntimeError("REDIS_URL must be set before the app starts")
    pool = BlockingConnectionPool.from_url(
        url, max_connections=_REDIS_CONNECTIONS, timeout=_REDIS_WAIT_SECONDS, decode_responses=True
    )
    redis = Redis(connection_pool=pool)
    _tune_gc()
    chat = ChatRuntime(
        hub=hub,
        cache=ChatCache(redis),
        writer=MessageWriter(lambda: app[DB], settings.flush_interval, settings.flush_batch),
        presence=Presence(redis, settings, uuid.uuid4().hex),
        bus=ControlBus(
            redis, f"{settings.channel}:control", functools.partial(control.on_control, app)
        ),
        lookups=Lookups(lambda: app[DB]),
        message_limit=settings.message_limit,
    )
    app[CHAT] = chat
    await chat.bus.start()
    # Subscribe to the Socket.IO queue now rather than at the first client's connect, so a
    # broadcast from another process can never race this process's first subscription.
    sio = hub.sio
    if not sio.manager_initialized:
        sio.manager_initialized = True
        sio.manager.initialize()

    async def broadcast(event_id: uuid.UUID, count: int) -> None:
        # Every process tells only its own clients, so nobody gets the count twice.
        await sio.emit(
            "viewers",
            {"event_id": str(event_id), "viewers": count},
            room=room_of(event_id),
            ignore_queue=True,
        )

    tasks = [
        asyncio.create_task(chat.writer.run(), name="chat-writer"),
        asyncio.create_task(chat.presence.run(broadcast), name="chat-presence"),
    ]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.wait_for(chat.writer.flush(), _SHUTDOWN_FLUSH_SECONDS)
    except Exception:
        log.exception("chat messages left unwritten at shutdown")
    with contextlib.suppress(Exception):
        await chat.presence.close()
    await chat.bus.close()
    await redis.aclose()
    await pool.disconnect()
    await sio.shutdown()
    listener = getattr(sio.manager, "thread", None)
    if isinstance(listener, asyncio.Task):
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


def setup(app: web.Application) -> None:
    """Mount Socket.IO at /socket.io/, add the chat routes, rules, listeners and runtime."""
    config = app[CONFIG]
    settings = load_settings(config)
    hub = ChatHub(settings=settings, sio=handlers.create_server(config, settings))
    app[HUB] = hub
    hub.sio.attach(app)
    handlers.register(app)
    app.router.add_routes(routes)
    app.setdefault(STATUS_LISTENERS, []).append(control.on_status)
    app.setdefault(WATCH_RULES, []).append(rooms.assigned_moderator_rule)
    app.setdefault(VIEWER_REVOKED_LISTENERS, []).append(control.on_viewer_revoked)
    app.setdefault(REVOCATION_LISTENERS, []).append(control.on_tokens_revoked)
    app.on_shutdown.append(_disconnect_all)
    app.cleanup_ctx.append(_lifecycle)
