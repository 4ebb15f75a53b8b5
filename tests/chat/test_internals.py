"""The private python-socketio / python-engineio internals the chat relies on, checked loudly.

server/chat/fanout.py, server/chat/direct.py and server/chat/handlers.py override or read parts
of both libraries
that are not their public API (pinned below their next major version in pyproject.toml).
If an upgrade changes any of them, these tests say which, instead of the chat silently
falling back to slow paths or, worse, letting reserved event names through.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import engineio
import pytest
import socketio
from aiohttp import web
from engineio.async_drivers import aiohttp as eio_aiohttp
from redis.asyncio import BlockingConnectionPool
from socketio.async_pubsub_manager import AsyncPubSubManager

from server.chat import HUB
from server.chat.direct import ChatEngineServer, DirectWebSocket, SendQueue
from server.chat.fanout import ChatRedisManager
from server.chat.handlers import ChatServer
from tests.chat.conftest import Client, joined, new_show
from tests.conftest import Api


def params(func: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_majors_are_the_pinned_ones() -> None:
    assert version("python-socketio").split(".")[0] == "5", "re-check server/chat/fanout.py"
    assert version("python-engineio").split(".")[0] == "4", "re-check server/chat/fanout.py"


@pytest.mark.parametrize(
    ("owner", "name", "expected"),
    [
        (socketio.AsyncRedisManager, "_redis_connect", ["self"]),
        (AsyncPubSubManager, "_handle_emit", ["self", "message"]),
        (socketio.AsyncServer, "_handle_event", ["self", "eio_sid", "namespace", "id", "data"]),
        (socketio.AsyncServer, "_send_packet", ["self", "eio_sid", "pkt"]),
        (socketio.AsyncManager, "get_participants", ["self", "namespace", "room"]),
        (socketio.AsyncManager, "is_connected", ["self", "sid", "namespace"]),
        (socketio.AsyncManager, "initialize", ["self"]),
        (
            socketio.AsyncManager,
            "basic_enter_room",
            ["self", "sid", "namespace", "room", "eio_sid"],
        ),
        (socketio.AsyncManager, "basic_leave_room", ["self", "sid", "namespace", "room"]),
        (socketio.AsyncManager, "basic_disconnect", ["self", "sid", "namespace", "kwargs"]),
        (socketio.AsyncManager, "get_rooms", ["self", "sid", "namespace"]),
        (socketio.AsyncServer, "_engineio_server_class", ["self"]),
        (engineio.AsyncServer, "create_queue", ["self", "args", "kwargs"]),
        (eio_aiohttp.WebSocket, "__init__", ["self", "handler", "server"]),
        (eio_aiohttp.WebSocket, "__call__", ["self", "environ"]),
        (eio_aiohttp.WebSocket, "send", ["self", "message"]),
        (engineio.async_socket.AsyncSocket, "_websocket_handler", ["self", "ws"]),
        (engineio.async_socket.AsyncSocket, "poll", ["self"]),
    ],
)
def test_overridden_and_called_internals_keep_their_signatures(
    owner: type, name: str, expected: list[str]
) -> None:
    func = getattr(owner, name, None)
    assert func is not None, f"{owner.__name__}.{name} is gone"
    assert params(func) == expected, f"{owner.__name__}.{name} changed: {params(func)}"


def test_our_overrides_match_what_they_override() -> None:
    assert params(ChatRedisManager._redis_connect) == params(
        socketio.AsyncRedisManager._redis_connect
    )
    assert params(ChatRedisManager._handle_emit) == params(AsyncPubSubManager._handle_emit)
    assert params(ChatServer._handle_event) == params(socketio.AsyncServer._handle_event)


async def test_asyncio_queue_get_ends_in_get_nowait() -> None:
    # SendQueue counts what the writer holds in get_nowait, which asyncio's get also ends in.
    queue = SendQueue()
    queue.websocket = object()  # type: ignore[assignment]
    queue.put_nowait("packet")
    assert await queue.get() == "packet" and queue.held == 1


def test_the_engineio_driver_table_is_left_as_it_was() -> None:
    server = ChatEngineServer(async_mode="aiohttp")
    assert server._async["websocket"] is DirectWebSocket
    assert eio_aiohttp._async["websocket"] is eio_aiohttp.WebSocket
    assert isinstance(server.create_queue(), SendQueue)


def test_the_reserved_names_are_still_dispatched_to_handlers() -> None:
    # Why ChatServer refuses them: the library itself treats these as its own.
    assert {"connect", "disconnect"} <= set(socketio.AsyncServer.reserved_events)


async def test_the_running_server_has_the_internals_the_fanout_uses(
    app_server: tuple[web.Application, str], api: Api, url: str, clients: Callable[[], Client]
) -> None:
    app = app_server[0]
    sio = app[HUB].sio
    manager = sio.manager
    assert isinstance(sio, ChatServer) and isinstance(manager, ChatRedisManager)
    # _redis_connect ran and left the attributes the stock manager reads.
    assert isinstance(manager.redis.connection_pool, BlockingConnectionPool)
    assert manager.pubsub is not None
    assert sio.manager_initialized is True
    assert isinstance(getattr(manager, "thread", None), asyncio.Task)
    assert callable(sio.packet_class) and manager.server is sio

    show = await new_show(api)
    client = await joined(clients, url, show.artist_token, show.id)
    sockets = sio.eio.sockets
    assert isinstance(sockets, dict)
    participants = list(manager.get_participants("/", f"ev:{show.id}"))
    assert len(participants) == 1
    _, eio_sid = participants[0]
    sock = sockets[eio_sid]
    assert isinstance(sock, engineio.async_socket.AsyncSocket)
    assert sock.closed is False and callable(sock.queue.put_nowait)
    assert isinstance(sio.eio, ChatEngineServer) and isinstance(sock.queue, SendQueue)
    assert isinstance(sock.queue.websocket, DirectWebSocket)
    assert sock.connected is True

    # Room broadcasts come back through _handle_emit, which our direct fan-out replaces.
    seen: list[dict[str, Any]] = []
    original = manager._handle_emit

    async def spy(message: dict[str, Any]) -> None:
        seen.append(message)
        await original(message)

    manager._handle_emit = spy
    try:
        assert (await client.call("send", {"event_id": show.id, "text": "through"}))["ok"]
        await client.wait_for("message", lambda m: m["text"] == "through")
    finally:
        del manager._handle_emit
    assert any(
        m.get("event") == "message"
        and m.get("room") == f"ev:{show.id}"
        and "data" in m
        and "namespace" in m
        and "skip_sid" in m
        and "callback" in m
        for m in seen
    ), seen


class _Unscannable(dict[Any, Any]):
    """A room table that fails any walk over all of its rooms."""

    def items(self) -> Any:
        raise AssertionError("walked every room")

    def copy(self) -> Any:
        raise AssertionError("copied every room")


async def test_a_leaving_socket_is_taken_out_of_its_own_rooms_without_a_walk(
    app_server: tuple[web.Application, str], api: Api, url: str, clients: Callable[[], Client]
) -> None:
    """Every connected socket has a room of its own, so finding a leaver's rooms by testing
    each room costs the square of the crowd when a show ends; the managers keep an index."""
    manager = app_server[0][HUB].sio.manager
    show = await new_show(api)
    stay = await joined(clients, url, show.artist_token, show.id)
    leave = await joined(clients, url, show.artist_token, show.id)
    room, gone = f"ev:{show.id}", leave.sio.get_sid("/")
    assert room in manager.get_rooms(gone, "/") and gone in manager.get_rooms(gone, "/")
    manager.rooms["/"] = _Unscannable(manager.rooms["/"])
    try:
        await leave.sio.disconnect()
        async with asyncio.timeout(5):
            while manager.eio_sid_from_sid(gone, "/") is not None:
                await asyncio.sleep(0.01)
    finally:
        manager.rooms["/"] = dict(manager.rooms["/"])
    assert manager.get_rooms(gone, "/") == [] and gone not in manager.rooms["/"]
    assert [sid for sid, _ in manager.get_participants("/", room)] == [stay.sio.get_sid("/")]
    assert (await stay.call("send", {"event_id": show.id, "text": "still here"}))["ok"]
    await stay.wait_for("message", lambda m: m["text"] == "still here")
