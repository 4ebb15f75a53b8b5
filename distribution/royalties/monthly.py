"""The monthly routine: fetch each store's new report files (delivery's `reports.fetch_all`,
over SFTP) and ingest each one."""

from __future__ import annotations

import logging

from aiohttp import web

from distribution import reports
from distribution.royalties.ingest import IngestResult, ingest_file

log = logging.getLogger(__name__)
SCHEDULE = "distribution.royalties"
# 03:00 UTC on the 1st of each month (croniter's six fields: seconds last).
CRON = "0 3 1 * * 0"


async def fetch_and_ingest(app: web.Application) -> list[IngestResult]:
    """Fetch new reports from every enabled store and ingest them; one bad file does not stop
    the others (it is recorded as rejected)."""
    results = []
    for fetched in await reports.fetch_all(app):
        results.append(await ingest_file(app, fetched.dsp, fetched.path))
    return results


async def monthly_job(app: web.Application) -> None:
    """The scheduled tick."""
    done = await fetch_and_ingest(app)
    log.info(
        "royalty reports: %d ingested, %d rejected",
        sum(r.state == "posted" for r in done),
        sum(r.state == "rejected" for r in done),
    )
