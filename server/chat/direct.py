"""Room broadcasts written straight onto each websocket, framed once for the whole room.

Engine.IO sends every packet through a per-socket queue drained by a per-socket writer task,
which frames it for its websocket on its own. For one chat message to a room of thousands that
is thousands of task wake-ups, timeouts and frame builds; a broadcast needs none of them: the
websocket frame is the same bytes for every recipient. So a socket whose writer has nothing
queued and nothing in hand gets the frame written onto its transport at once, which keeps its
order (everything before it is already written). Any other socket (a packet waiting, a writer
mid-send, a connection that started on long-polling) gets the packet on its queue, as before.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import engineio
from engineio.async_drivers import aiohttp as eio_aiohttp

_TEXT_FIN = 0x81


def text_frame(text: str) -> bytes:
    """A server's (unmasked) websocket text frame carrying `text`."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", _TEXT_FIN, n)
    elif n < 65536:
        head = struct.pack("!BBH", _TEXT_FIN, 126, n)
    else:
        head = struct.pack("!BBQ", _TEXT_FIN, 127, n)
    return head + payload


class SendQueue(asyncio.Queue[Any]):
    """An Engine.IO send queue that knows its websocket and what its writer holds.

    `held` counts packets the websocket's writer took from the queue and has not finished
    writing; a frame written beside the queue while it is non-zero could overtake them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.websocket: DirectWebSocket | None = None
        self.held = 0

    def get_nowait(self) -> Any:
        """Take a packet (asyncio's `get` ends here too), counting it as held by the writer."""
        item = super().get_nowait()
        if item is not None and self.websocket is not None:
            self.held += 1
        return item

    def write_now(self, frame: bytes) -> bool:
        """Write a frame onto the websocket if nothing queued or held would come after it."""
        ws = self.websocket
        if ws is None or self.held or not self.empty():
            return False
        transport = ws.transport
        if transport is None or transport.is_closing():
            return False
        transport.write(frame)
        return True


class DirectWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    """Engine.IO's aiohttp websocket, attached to its socket's queue for direct writes.

    Only a socket that connected over websocket from the start is attached: one upgraded
    from long-polling had packets taken by polling requests, which its count cannot see.
    """

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self.transport: asyncio.Transport | None = None
        sock: Any = getattr(handler, "__self__", None)
        queue = getattr(sock, "queue", None)
        self._queue = queue if isinstance(queue, SendQueue) else None
        if self._queue is not None and not sock.connected:
            self._queue.websocket = self

    async def __call__(self, environ: dict[str, Any]) -> Any:
        """Serve the websocket; its transport is the request's, after the handshake."""
        self.transport = environ["aiohttp.request"].transport
        return await super().__call__(environ)

    async def send(self, message: Any) -> None:
        """Send one packet the writer took from the queue."""
        try:
            await super().send(message)
        finally:
            if self._queue is not None and self._queue.held:
                self._queue.held -= 1


class ChatEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO server whose sockets get a `SendQueue` and a `DirectWebSocket`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        drivers: dict[str, Any] = self._async
        if drivers.get("websocket") is eio_aiohttp.WebSocket:
            # A copy: the driver's table is shared by every Engine.IO server in the process.
            self._async: dict[str, Any] = {**drivers, "websocket": DirectWebSocket}

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue[Any]:
        """Every socket's send queue."""
        return SendQueue(*args, **kwargs)
