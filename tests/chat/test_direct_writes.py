"""Room broadcasts framed once and written straight onto idle websockets, in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from engineio import packet as eio_packet
from socketio import packet

from server.chat import HUB
from server.chat.direct import DirectWebSocket, SendQueue
from tests.chat.conftest import Client, joined, new_show
from tests.conftest import Api
from tests.streaming import until


def _queue_of(app: web.Application, event_id: str) -> SendQueue:
    """The send queue of the one socket in an event's room."""
    sio = app[HUB].sio
    [(_, eio_sid)] = list(sio.manager.get_participants("/", f"ev:{event_id}"))
    queue = sio.eio.sockets[eio_sid].queue
    assert isinstance(queue, SendQueue)
    return queue


async def _idle(queue: SendQueue) -> None:
    async def check() -> bool:
        return queue.held == 0 and queue.empty()

    await until(check, 5, "the socket's writer to go idle")


def _count_puts(queue: SendQueue) -> list[Any]:
    puts: list[Any] = []
    original = queue.put_nowait

    def spy(item: Any) -> None:
        puts.append(item)
        original(item)

    queue.put_nowait = spy  # type: ignore[method-assign]
    return puts


async def test_an_idle_websocket_gets_the_broadcast_without_its_queue(
    app_server: tuple[web.Application, str], api: Api, url: str, clients: Callable[[], Client]
) -> None:
    app = app_server[0]
    show = await new_show(api)
    client = await joined(clients, url, show.artist_token, show.id)
    queue = _queue_of(app, show.id)
    assert isinstance(queue.websocket, DirectWebSocket)
    await client.barrier()
    await _idle(queue)
    puts = _count_puts(queue)
    await app[HUB].sio.emit("notice", {"n": 1}, room=f"ev:{show.id}", ignore_queue=True)
    assert await client.wait_for("notice") == {"n": 1}
    assert puts == []


async def test_a_broadcast_never_overtakes_a_packet_already_queued(
    app_server: tuple[web.Application, str], api: Api, url: str, clients: Callable[[], Client]
) -> None:
    app = app_server[0]
    sio = app[HUB].sio
    show = await new_show(api)
    client = await joined(clients, url, show.artist_token, show.id)
    queue = _queue_of(app, show.id)
    await client.barrier()
    await _idle(queue)
    for n in range(20):
        # Queued and broadcast in the same turn of the loop: the writer has not run yet.
        first = sio.packet_class(packet.EVENT, namespace="/", data=["order", {"n": 2 * n}])
        queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, first.encode()))
        await sio.emit("order", {"n": 2 * n + 1}, room=f"ev:{show.id}", ignore_queue=True)

    async def all_arrived() -> bool:
        return len(client.seen("order")) == 40

    await until(all_arrived, 5, "every packet")
    assert [d["n"] for d in client.seen("order")] == list(range(40))


async def test_a_socket_upgraded_from_polling_gets_broadcasts_through_its_queue(
    app_server: tuple[web.Application, str], api: Api, url: str
) -> None:
    app = app_server[0]
    show = await new_show(api)
    client = Client()
    try:
        await client.sio.connect(
            url, auth={"token": show.artist_token}, transports=["polling", "websocket"]
        )
        assert (await client.call("join", {"event_id": show.id}))["ok"]

        async def upgraded() -> bool:
            return bool(client.sio.transport() == "websocket")

        await until(upgraded, 5, "the upgrade to websocket")
        queue = _queue_of(app, show.id)
        assert queue.websocket is None
        puts = _count_puts(queue)
        assert (await client.call("send", {"event_id": show.id, "text": "upgraded"}))["ok"]
        message = await client.wait_for("message", lambda m: m["text"] == "upgraded")
        assert message["event_id"] == show.id
        assert len(puts) >= 1
    finally:
        await client.close()
