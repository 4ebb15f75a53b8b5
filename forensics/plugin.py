"""Plugging the audit trail into the app: config, signing key, writer, sink, routes, job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from forensics import config, service
from forensics.checkpoint import generate_key_file, load_key_file
from forensics.keys import EXPORTS, FCONFIG, SIGNER, WRITER
from forensics.routes import routes
from forensics.scheduler import scheduler_ctx
from forensics.worm import LocalWormStore
from forensics.writer import LogWriter
from server.audit import AUDIT_SINK
from server.keys import CLOCK, CONFIG, DB


async def _writer_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[FCONFIG]
    cfg.key_path.parent.mkdir(parents=True, exist_ok=True)
    # A first start creates the key; operators back it up and publish its verifier key.
    app[SIGNER] = (
        load_key_file(cfg.key_path) if cfg.key_path.exists() else generate_key_file(cfg.key_path)
    )
    app[EXPORTS] = LocalWormStore(cfg.export_dir)
    writer = LogWriter(app[DB], app[CLOCK])
    writer.start()
    app[WRITER] = writer
    yield
    await writer.stop()


def setup(app: web.Application) -> None:
    """Register the forensics package on the app."""
    app[FCONFIG] = config.load(app[CONFIG])

    async def sink(
        event_type: str,
        actor: str | None,
        subject: str | None,
        data: dict[str, Any],
        personal: Mapping[str, Any] | None,
    ) -> None:
        await service.log_event(app, event_type, actor, subject, data, personal)

    app[AUDIT_SINK] = sink
    app.cleanup_ctx.append(_writer_ctx)
    if app[FCONFIG].scheduler:
        app.cleanup_ctx.append(scheduler_ctx)
    app.router.add_routes(routes)
