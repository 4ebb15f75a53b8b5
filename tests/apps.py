"""Extra app processes on the session's services, with some settings changed."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from server.app import create_app
from server.clock import Clock
from server.keys import CONFIG
from server.localstack import free_port
from tests.conftest import Api


@asynccontextmanager
async def app_with(
    base: web.Application,
    env: dict[str, str] | None = None,
    source: str | None = None,
    **changes: object,
) -> AsyncIterator[Api]:
    """Another app process like `base` (its config with `changes`, `env` merged), and a client
    (connecting from the loopback address `source` when given)."""
    port = free_port()
    cfg = base[CONFIG]
    cfg = dataclasses.replace(cfg, port=port, env={**cfg.env, **(env or {})}, **changes)  # type: ignore[arg-type]
    app = create_app(cfg, Clock())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        connector = aiohttp.TCPConnector(local_addr=(source, 0) if source else None)
        async with aiohttp.ClientSession(connector=connector) as session:
            yield Api(session, f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()
