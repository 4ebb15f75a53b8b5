"""Per-process chat runtime: the Socket.IO server, live connections and the parts they use."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import socketio
from aiohttp import web

from server.accounts.tokens import Principal
from server.chat.settings import ChatSettings

if TYPE_CHECKING:
    from server.chat.bus import ControlBus
    from server.chat.cache import ChatCache
    from server.chat.presence import Presence
    from server.chat.writer import MessageWriter

# Each connection may send this many events per second (any event), with this burst; the
# per-user message bucket in Redis is the real limit, this only keeps one socket from
# making the process do unbounded work.
EVENTS_PER_SECOND = 20.0
EVENTS_BURST = 40.0
MAX_ROOMS_PER_CONNECTION = 5


def room_of(event_id: uuid.UUID) -> str:
    """The Socket.IO room of an event's chat."""
    return f"ev:{event_id}"


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


class Parts(NamedTuple):
    """The chat's Redis- and PostgreSQL-backed parts, which exist while the app runs."""

    cache: ChatCache
    writer: MessageWriter
    presence: Presence
    bus: ControlBus


@dataclass
class ChatHub:
    """Everything chat keeps per process; the Redis-backed parts are set when the app starts."""

    settings: ChatSettings
    sio: socketio.AsyncServer
    connections: dict[str, Connection] = field(default_factory=dict)
    cache: ChatCache | None = None
    writer: MessageWriter | None = None
    presence: Presence | None = None
    bus: ControlBus | None = None

    def parts(self) -> Parts:
        """The started parts; only called while the app runs."""
        assert self.cache and self.writer and self.presence and self.bus, "chat not started"
        return Parts(self.cache, self.writer, self.presence, self.bus)

    async def emit_room(self, event_id: uuid.UUID, event: str, data: Any) -> None:
        """Send to everyone in an event's room, on every process."""
        await self.sio.emit(event, data, room=room_of(event_id))


CHAT = web.AppKey("chat", ChatHub)
