"""Records sent through the job queue's outbox are appended once, however often their job runs."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web

from forensics import service
from server.keys import DB


async def test_an_outbox_record_is_appended_once_however_often_its_job_runs(
        app_server: tuple[web.Application, str]) -> None:
    app = app_server[0]
    key, subject = uuid.uuid4(), str(uuid.uuid4())
    # Concurrent runs (a job picked again while its first run still appends) and a late one.
    seqs = await asyncio.gather(*(
        service.log_event(app, "TICKET_REFUNDED", None, subject, {"reason": "x"}, key=key)
        for _ in range(4)))
    seqs.append(await service.log_event(app, "TICKET_REFUNDED", None, subject,
                                        {"reason": "x"}, key=key))
    other = await service.log_event(app, "TICKET_REFUNDED", None, subject, {"reason": "y"},
                                    key=uuid.uuid4())
    assert len(set(seqs)) == 1 and other != seqs[0]
    async with app[DB].acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM forensic_log WHERE subject = $1",
                                    subject)
    assert count == 2
    assert (await service.verify(app)).ok
