"""Chat test helpers: real python-socketio clients against the running app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import socketio
from aiohttp import web

from tests.conftest import Api, promote

WAIT = 5.0


class Client:
    """A Socket.IO client that records every event it receives, in order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Condition()
        self.disconnected = asyncio.Event()
        self.sio.on("*", self._record)
        self.sio.on("disconnect", self._on_disconnect)

    async def _record(self, event: str, *args: Any) -> None:
        async with self._changed:
            self.events.append((event, args[0] if len(args) == 1 else list(args)))
            self._changed.notify_all()

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    async def connect(self, url: str, token: str | None, **kwargs: Any) -> None:
        """Connect over websocket with the token in the auth payload."""
        auth = {"token": token} if token is not None else None
        await self.sio.connect(
            url, auth=auth, transports=["websocket"], wait_timeout=WAIT, **kwargs
        )

    async def call(self, event: str, *data: Any) -> Any:
        """Emit and wait for the ack."""
        return await self.sio.call(event, data[0] if len(data) == 1 else data, timeout=WAIT)

    async def call_raw(self, event: str, *args: Any) -> Any:
        """Emit with any number of arguments (bad-input tests) and wait for the ack."""
        return await self.sio.call(event, args if len(args) != 1 else args[0], timeout=WAIT)

    def seen(self, event: str, pred: Callable[[Any], bool] = lambda d: True) -> list[Any]:
        """Payloads received so far for `event` that match `pred`."""
        return [d for e, d in self.events if e == event and pred(d)]

    async def wait_for(
        self, event: str, pred: Callable[[Any], bool] = lambda d: True, timeout: float = WAIT
    ) -> Any:
        """The first payload of `event` matching `pred`, waiting for it if needed."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: bool(self.seen(event, pred))), timeout
            )
        return self.seen(event, pred)[0]

    async def barrier(self) -> None:
        """A round trip: anything the server queued for us before it has now arrived."""
        reply = await self.call("leave", {"event_id": "00000000-0000-0000-0000-000000000000"})
        assert reply == {"ok": True}, reply

    async def close(self) -> None:
        """Disconnect if still connected, and release the HTTP session of a refused connect."""
        if self.sio.connected:
            await self.sio.disconnect()
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()


@dataclass
class Show:
    """An event with its artist."""

    id: str
    artist: dict[str, Any]
    event: dict[str, Any]

    @property
    def artist_token(self) -> str:
        """The artist's access token."""
        return str(self.artist["access"])


@pytest.fixture
def url(app_server: tuple[web.Application, str]) -> str:
    """Base URL of the running app."""
    return app_server[1]


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[], Client]]:
    """A factory of clients, all closed after the test."""
    made: list[Client] = []

    def make() -> Client:
        client = Client()
        made.append(client)
        return client

    yield make
    await asyncio.gather(*(c.close() for c in made), return_exceptions=True)


async def new_show(api: Api, **fields: Any) -> Show:
    """A fresh artist and a scheduled event of theirs."""
    artist = await api.register("artist")
    event = await api.create_event(artist["access"], **fields)
    return Show(event["id"], artist, event)


async def joined(make: Callable[[], Client], url: str, token: str, event_id: str) -> Client:
    """A connected client that has joined `event_id`."""
    client = make()
    await client.connect(url, token)
    reply = await client.call("join", {"event_id": event_id})
    assert reply.get("ok"), reply
    return client


async def moderator_token(api: Api) -> str:
    """A platform moderator's token."""
    user = await api.register("fan")
    return await promote(api, user, "moderator")
