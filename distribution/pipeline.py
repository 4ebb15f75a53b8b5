"""The release job: after an upload, a correction or a takedown commits, build and validate
one package per enabled store, then hand them to delivery in one transaction."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from distribution import handover, packages, releases, validator
from distribution.errors import DistributionError
from distribution.keys import DIST_CONFIG
from server import jobs
from server.keys import CLOCK, DB

log = logging.getLogger(__name__)
BUILD_JOB = "distribution.build"


async def enqueue(
    app: web.Application, conn: asyncpg.Connection, release: releases.Release
) -> None:
    """Queue the build of the release's current revision, in the caller's transaction."""
    await jobs.enqueue(
        app,
        conn,
        BUILD_JOB,
        {"release_id": str(release.id), "revision": release.revision},
        dedupe_key=f"{BUILD_JOB}:{release.id}:{release.revision}",
    )


async def build_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job. Safe to run again: message ids and package folders are per revision."""
    release_id, revision = uuid.UUID(payload["release_id"]), int(payload["revision"])
    cfg = app[DIST_CONFIG]
    async with app[DB].acquire() as conn:
        release = await releases.get(conn, release_id)
        if release is None or release.revision != revision:
            return  # a newer revision has its own job
        await releases.set_state(conn, release_id, "building", 10, revision=revision)
    loop = asyncio.get_running_loop()
    try:
        checker = await loop.run_in_executor(None, validator.load, cfg.schema_dir)
        built = await loop.run_in_executor(
            None,
            packages.build,
            cfg,
            checker,
            release,
            handover.recipients(app),
            app[CLOCK].now(),
        )
    except DistributionError as exc:
        # A message the schema refuses will be refused again: stop and say why.
        log.error("release %s revision %s: %s", release_id, revision, exc.message)
        async with app[DB].acquire() as conn:
            await releases.set_state(
                conn, release_id, "failed", 100, exc.message, revision=revision
            )
        return
    done = "taken_down" if release.pending_kind == "takedown" else "ready"
    async with app[DB].acquire() as conn, conn.transaction():
        current = await releases.get(conn, release_id, lock=True)
        if current is None or current.revision != revision:
            return
        await releases.record_messages(
            conn, [(p.message_id, p.release_id, p.dsp, p.kind, revision) for p in built]
        )
        await releases.set_state(conn, release_id, done, 100, revision=revision)
        await handover.enqueue(app, conn, built)
