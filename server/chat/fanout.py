"""Client managers whose room broadcasts enqueue one shared packet per recipient.

python-socketio's stock broadcast creates an asyncio task per recipient, each of which
re-checks the socket and awaits a queue put; in a room of a thousand fans that is most of
the cost of a message. Broadcasts without callbacks or binary data need none of that: the
packet is encoded once and put straight on each recipient's Engine.IO send queue, in order.
Where the recipient's writer is idle the frame itself is written at once (server.chat.direct).
Anything else (acks, binary, a server whose sockets look different) takes the stock path.
"""

from __future__ import annotations

from typing import Any

import socketio
from engineio import packet as eio_packet
from redis.asyncio import BlockingConnectionPool, Redis
from socketio import packet

from server.chat.direct import SendQueue, text_frame

# Connections for Socket.IO's publishes: a blocking pool, so a burst of concurrent
# broadcasts queues for a connection rather than dropping what other processes should get.
PUBLISH_CONNECTIONS = 32
PUBLISH_WAIT_SECONDS = 10.0


def _fanout(
    manager: Any, event: str, args: list[Any], namespace: str, room: Any, skip_sid: Any
) -> bool:
    """Enqueue the event for every local participant of `room`; False to use the stock path."""
    sockets = getattr(getattr(manager.server, "eio", None), "sockets", None)
    if not isinstance(sockets, dict):
        return False
    if namespace not in manager.rooms:
        return True  # nobody here: nothing to do, as in the stock emit
    pkt = manager.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *args])
    encoded = pkt.encode()
    if isinstance(encoded, list):  # binary attachments: several packets, keep it simple
        return False
    eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
    # The websocket frame, built once for the room (server.chat.direct).
    frame = text_frame(eio_pkt.encode())
    skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
    for sid, eio_sid in manager.get_participants(namespace, room):
        if sid in skip:
            continue
        sock = sockets.get(eio_sid)
        if sock is None or sock.closed:
            continue
        queue = sock.queue
        if isinstance(queue, SendQueue) and queue.write_now(frame):
            continue
        queue.put_nowait(eio_pkt)
    return True


class RoomIndex:
    """Which rooms each socket is in, kept beside the manager's room table.

    The stock manager finds a leaving socket's rooms by testing every room, and each
    connected socket has a room of its own, so a show's end with thousands of fans leaving
    cost time in the square of the room's size (seconds of a full core at 3,000, with the
    loop stalled). With the index a leave touches only the socket's own rooms.
    """

    rooms: dict[Any, dict[Any, Any]]
    callbacks: dict[Any, Any]
    pending_connect: dict[Any, list[Any]]
    pending_disconnect: dict[Any, list[Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms_of: dict[Any, dict[Any, dict[Any, None]]] = {}

    def basic_enter_room(self, sid: Any, namespace: Any, room: Any, eio_sid: Any = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        self._rooms_of.setdefault(namespace, {}).setdefault(sid, {})[room] = None

    def basic_leave_room(self, sid: Any, namespace: Any, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        of_namespace = self._rooms_of.get(namespace, {})
        rooms = of_namespace.get(sid)
        if rooms is not None:
            rooms.pop(room, None)
            if not rooms:
                del of_namespace[sid]
                if not of_namespace:
                    del self._rooms_of[namespace]

    def get_rooms(self, sid: Any, namespace: Any) -> list[Any]:
        """Return the rooms a client is in."""
        return [r for r in self._rooms_of.get(namespace, {}).get(sid, ()) if r is not None]

    def basic_disconnect(self, sid: Any, namespace: Any, **kwargs: Any) -> None:
        # The stock method, with the socket's rooms read from the index.
        if namespace not in self.rooms:
            return
        for room in list(self._rooms_of.get(namespace, {}).get(sid, ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]


def _args(data: Any) -> list[Any]:
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


class ChatRedisManager(RoomIndex, socketio.AsyncRedisManager):  # type: ignore[misc]
    """The Redis-backed manager (rooms across processes) with the direct broadcast."""

    def _redis_connect(self) -> None:
        super()._redis_connect()
        if self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            pool = BlockingConnectionPool.from_url(
                self.redis_url, max_connections=PUBLISH_CONNECTIONS, timeout=PUBLISH_WAIT_SECONDS
            )
            self.redis = Redis(connection_pool=pool)
            self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Local-only broadcasts (`ignore_queue`) take the direct path too."""
        if (
            kwargs.get("ignore_queue")
            and callback is None
            and _fanout(self, event, _args(data), namespace or "/", to or room, skip_sid)
        ):
            return
        await super().emit(
            event,
            data,
            namespace=namespace,
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            to=to,
            **kwargs,
        )

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        # Both local emits and those arriving from other processes come through here.
        if (
            message.get("callback") is None
            and not message.get("binary")
            and _fanout(
                self,
                message["event"],
                list(message["data"]),
                message.get("namespace") or "/",
                message.get("room"),
                message.get("skip_sid"),
            )
        ):
            return
        await super()._handle_emit(message)


class ChatLocalManager(RoomIndex, socketio.AsyncManager):  # type: ignore[misc]
    """The single-process manager (no REDIS_URL) with the direct broadcast."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Broadcast directly when no callback is involved."""
        if callback is None and _fanout(self, event, _args(data), namespace, to or room, skip_sid):
            return
        await super().emit(
            event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )
