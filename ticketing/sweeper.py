"""Ticketing's periodic work, on the job queue's schedule: expire holds whose time ran out
(settling any paid meanwhile), refund paid tickets of cancelled events, and finish refunds
left midway. Each tick runs in one worker across all processes."""

from __future__ import annotations

from aiohttp import web

from server import jobs
from server.jobs.registry import every
from ticketing import orders, refunds
from ticketing.keys import TICKETING_CONFIG

SWEEP = "ticketing.sweep"


async def sweep(app: web.Application) -> None:
    """One pass: expire holds, then retry unfinished refunds."""
    await orders.expire_due(app)
    await refunds.retry_refunds(app)


def setup(app: web.Application) -> None:
    """Register the sweep (about every MHC_TICKET_SWEEP_SECONDS) and the refund job."""
    jobs.schedule(app, SWEEP, every(app[TICKETING_CONFIG].sweep_seconds), sweep)
    jobs.register(app, refunds.REFUND_EVENT_JOB, refunds.refund_event_job)
