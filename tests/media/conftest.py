"""Fixtures of the media tests: Socket.IO clients of the session app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from tests.chat.conftest import Client


@pytest.fixture
def url(app_server: tuple[web.Application, str]) -> str:
    """Base URL of the running app."""
    return app_server[1]


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[], Client]]:
    """A factory of Socket.IO clients, all closed after the test."""
    made: list[Client] = []

    def make() -> Client:
        client = Client()
        made.append(client)
        return client

    yield make
    await asyncio.gather(*(c.close() for c in made), return_exceptions=True)
