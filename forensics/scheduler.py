"""The daily job: checkpoint, verify, export to write-once storage.

It runs inside every app process on the configured cron; a row per scheduled time in the
database lets exactly one process do each run. The same steps are `mhc forensics daily`
for operators who prefer an external cron.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from aiohttp import web
from croniter import croniter

from forensics import service, store
from forensics.keys import FCONFIG
from server.keys import CLOCK, DB

log = logging.getLogger(__name__)
JOB = "daily-audit"


async def run_daily(app: web.Application) -> dict[str, Any]:
    """Checkpoint the log, verify the chain, export what is new since the last export."""
    async with app[DB].acquire() as conn:
        size = await store.size(conn)
        previous = await store.last_export(conn)
    if size == 0:
        return {"checkpoint": None, "verified": True, "export": None}
    checkpoint = await service.create_checkpoint(app)
    verification = await service.verify(app)
    if not verification.ok:
        log.error(
            "forensic chain verification failed at seq %s: %s",
            verification.first_bad_seq,
            verification.reason,
        )
    first = previous["last_seq"] + 1 if previous else 1
    exported = (
        await service.export(app, first, checkpoint["tree_size"])
        if first <= checkpoint["tree_size"]
        else None
    )
    return {
        "checkpoint": checkpoint,
        "verified": verification.ok,
        "first_bad_seq": verification.first_bad_seq,
        "export": exported,
    }


async def _loop(app: web.Application) -> None:
    cron = app[FCONFIG].cron
    clock = app[CLOCK]
    while True:
        due: datetime = croniter(cron, clock.now()).get_next(datetime)
        # Sleep in short steps so a moved clock (or a suspended laptop) is noticed.
        while clock.now() < due:
            await asyncio.sleep(min(60.0, max((due - clock.now()).total_seconds(), 0.05)))
        async with app[DB].acquire() as conn:
            mine = await store.claim_job(conn, JOB, due)
        if not mine:
            continue
        try:
            result = await run_daily(app)
            outcome = "ok" if result["verified"] else f"chain broken at {result['first_bad_seq']}"
        except Exception as exc:  # keep the scheduler alive for tomorrow; say why today failed
            log.exception("daily forensic job failed")
            outcome = f"error: {type(exc).__name__}: {exc}"
        async with app[DB].acquire() as conn:
            await store.finish_job(conn, JOB, due, outcome, clock.now())


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the daily job loop for the app's lifetime."""
    task = asyncio.create_task(_loop(app), name="forensic-daily")
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
