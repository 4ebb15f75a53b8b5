"""The daily job: checkpoint, verify, export to write-once storage.

It is a schedule on the job queue (MHC_FORENSIC_CRON), so one worker across all processes
takes each tick; a row per scheduled time in the database makes sure each run happens once
even if the queue hands a tick out again. The same steps are `mhc forensics daily` for
operators who prefer an external cron.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
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


async def daily(app: web.Application) -> None:
    """The scheduled tick: claim this run of the cron, then do it and record the outcome."""
    clock = app[CLOCK]
    # The tick that fired: the latest time the cron names at or before now.
    due: datetime = croniter(app[FCONFIG].cron, clock.now() + timedelta(seconds=1)).get_prev(
        datetime
    )
    async with app[DB].acquire() as conn:
        mine = await store.claim_job(conn, JOB, due)
    if not mine:  # another process ran this one (the queue re-picks a tick gone quiet)
        return
    try:
        result = await run_daily(app)
        outcome = "ok" if result["verified"] else f"chain broken at {result['first_bad_seq']}"
    except Exception as exc:  # tomorrow's run still comes; say why today's failed
        log.exception("daily forensic job failed")
        outcome = f"error: {type(exc).__name__}: {exc}"
    async with app[DB].acquire() as conn:
        await store.finish_job(conn, JOB, due, outcome, clock.now())
