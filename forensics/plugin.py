"""Plugging the audit trail into the app: config, signing key, writer, sink, routes, job."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from forensics import config, scheduler, service
from forensics.checkpoint import generate_key_file, load_key_file
from forensics.keys import EXPORTS, FCONFIG, SIGNER, WRITER
from forensics.routes import routes
from forensics.worm import LocalWormStore
from forensics.writer import LogWriter
from server import jobs
from server.audit import AUDIT_SINK, OUTBOX_JOB
from server.keys import CLOCK, CONFIG, DB


async def _writer_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[FCONFIG]
    cfg.key_path.parent.mkdir(parents=True, exist_ok=True)
    # A first start creates the key; operators back it up and publish its verifier key.
    app[SIGNER] = (
        load_key_file(cfg.key_path) if cfg.key_path.exists() else generate_key_file(cfg.key_path)
    )
    app[EXPORTS] = LocalWormStore(cfg.export_dir)
    writer = LogWriter(app[DB], app[CLOCK], log_dir=cfg.log_dir)
    writer.start()
    app[WRITER] = writer
    # Records committed without tiles (a log from before them) are covered, and tile files
    # lost after their commit (a crash, a wiped directory) are written again.
    await service.build_tiles(app, wait=False)
    yield
    await writer.stop()


async def _append_from_outbox(app: web.Application, payload: dict[str, Any]) -> None:
    """The job behind `server.audit.record`; its key makes a retry append nothing twice."""
    await service.log_event(
        app,
        payload["type"],
        payload["actor"],
        payload["subject"],
        payload["data"],
        key=uuid.UUID(payload["key"]),
    )


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
    jobs.register(app, OUTBOX_JOB, _append_from_outbox)
    if app[FCONFIG].scheduler:
        jobs.schedule(app, scheduler.JOB, app[FCONFIG].cron, scheduler.daily)
    app.router.add_routes(routes)
