"""The application factory: one aiohttp app, shared pool and Redis, packages plugged in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

import distribution
import forensics
import ledger
import media
import ticketing
from server import chat, db, jobs, middleware
from server.accounts import reset as accounts_reset
from server.accounts import service as accounts_service
from server.accounts.routes import routes as account_routes
from server.clock import Clock
from server.config import Config
from server.keys import CLOCK, CONFIG, DB, REDIS
from server.live import service as live_service
from server.live import sweeper as live_sweeper
from server.live.hooks import routes as hook_routes
from server.live.routes import routes as live_routes
from server.ops.routes import routes as ops_routes
from server.playback.routes import routes as playback_routes
from server.web.routes import routes as web_routes

log = logging.getLogger(__name__)

# Domain packages plug in here: each `setup(app)` adds routes, rules and background tasks.
PACKAGE_SETUPS: list[Callable[[web.Application], None]] = [
    forensics.setup,
    media.setup,
    ticketing.setup,
    ledger.setup,
    distribution.setup,
]


async def _database(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    assert cfg.database_url, "DATABASE_URL must be set before the app starts"
    pool = await db.create_pool(cfg.database_url)
    async with pool.acquire() as conn:
        applied = await db.migrate(conn)
    if applied:
        log.info("migrations applied: %s", ", ".join(applied))
    app[DB] = pool
    yield
    await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    assert cfg.redis_url, "REDIS_URL must be set before the app starts"
    # A blocking pool makes bursts wait for a free connection instead of failing.
    pool = BlockingConnectionPool.from_url(
        cfg.redis_url, decode_responses=True, max_connections=256, timeout=5
    )
    client: Redis = Redis(connection_pool=pool)
    await client.ping()
    app[REDIS] = client
    yield
    await client.aclose()


def create_app(config: Config, clock: Clock | None = None) -> web.Application:
    """Build the app; resources open in cleanup_ctx, so nothing connects until it starts."""
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[middleware.metrics, middleware.errors],
    )
    app[CONFIG] = config
    app[CLOCK] = clock or Clock()
    accounts_service.setup(app)
    live_service.setup(app)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    for table in (
        account_routes,
        live_routes,
        playback_routes,
        hook_routes,
        ops_routes,
        web_routes,
    ):
        app.router.add_routes(table)
    jobs.setup(app)  # the registry each package adds its jobs and schedules to
    accounts_reset.setup(app)
    chat.setup(app)  # Socket.IO at /socket.io/ and the chat routes
    live_sweeper.setup(app)
    for setup in PACKAGE_SETUPS:
        setup(app)
    jobs.start_worker(app)  # last: it stops first, before what its jobs use
    return app
