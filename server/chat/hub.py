"""Per-process chat state: the Socket.IO server, live connections, and the started runtime."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import socketio
from aiohttp import web

from server.accounts.tokens import Principal
from server.chat.settings import ChatSettings

if TYPE_CHECKING:
    from server.chat.bus import ControlBus
    from server.chat.cache import ChatCache
    from server.chat.lookups import Lookups
    from server.chat.presence import Presence
    from server.chat.writer import MessageWriter
    from server.ratelimit import RateLimit

# Each connection may send this many events per second (any event), with this burst; the
# per-user message bucket in Redis is the real limit, this only keeps one socket from
# making the process do unbounded work.
EVENTS_PER_SECOND = 20.0
EVENTS_BURST = 40.0
MAX_ROOMS_PER_CONNECTION = 5


def room_of(event_id: uuid.UUID) -> str:
    """The Socket.IO room of an event's chat."""
    return f"ev:{event_id}"


def user_room(user_id: uuid.UUID) -> str:
    """The Socket.IO room of one account's sockets (notices meant for that user alone)."""
    return f"user:{user_id}"


@dataclass
class Connection:
    """One authenticated Socket.IO connection of this process."""

    sid: str
    principal: Principal
    name: str
    rooms: set[uuid.UUID] = field(default_factory=set)
    moderates: set[uuid.UUID] = field(default_factory=set)
    # Rooms being joined right now: they count against the room cap before the first await.
    joining: set[uuid.UUID] = field(default_factory=set)
    # Set on disconnect, so a join that was waiting on the database does not resurrect it.
    closed: bool = False
    # When the token was last checked against logout and role changes (monotonic seconds).
    checked_at: float = field(default_factory=time.monotonic)
    _tokens: float = EVENTS_BURST
    _stamp: float = field(default_factory=time.monotonic)

    def allow_event(self) -> bool:
        """Spend one token of the connection's local event budget."""
        now = time.monotonic()
        self._tokens = min(EVENTS_BURST, self._tokens + (now - self._stamp) * EVENTS_PER_SECOND)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


@dataclass
class ChatHub:
    """What exists from `setup`: the Socket.IO server (mounted on the app) and its connections."""

    settings: ChatSettings
    sio: socketio.AsyncServer
    connections: dict[str, Connection] = field(default_factory=dict)

    async def emit_room(self, event_id: uuid.UUID, event: str, data: Any) -> None:
        """Send to everyone in an event's room, on every process."""
        await self.sio.emit(event, data, room=room_of(event_id))

    def room_sids(self, event_id: uuid.UUID, user_id: uuid.UUID | None = None) -> list[str]:
        """This process's sockets in an event's room, by Socket.IO's own membership.

        Kicks go by this, never by presence: a socket is in the room until the server itself
        takes it out, whatever the client claims.
        """
        sids = [sid for sid, _ in self.sio.manager.get_participants("/", room_of(event_id))]
        if user_id is None:
            return sids
        return [
            sid
            for sid in sids
            if (conn := self.connections.get(sid)) is not None and conn.principal.user_id == user_id
        ]


@dataclass(frozen=True)
class ChatRuntime:
    """The chat's Redis- and PostgreSQL-backed parts, built when the app starts."""

    hub: ChatHub
    cache: ChatCache
    writer: MessageWriter
    presence: Presence
    bus: ControlBus
    lookups: Lookups
    message_limit: RateLimit
    # Loads of the Redis mirror under way, per event (concurrent joiners share one).
    warming: dict[uuid.UUID, asyncio.Future[None]] = field(default_factory=dict)
    # Completed loads per event: a joiner who found the mirror cold before the last load
    # finished reads again instead of loading it once more.
    mirror_loads: dict[uuid.UUID, int] = field(default_factory=dict)

    @property
    def settings(self) -> ChatSettings:
        """The chat's settings."""
        return self.hub.settings


HUB = web.AppKey("chat_hub", ChatHub)
CHAT = web.AppKey("chat", ChatRuntime)
