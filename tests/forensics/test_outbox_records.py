"""Records sent through the job queue's outbox are appended once, however often their job
runs; the daily job is a schedule on that queue."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from forensics import service
from server.app import create_app
from server.keys import DB
from server.localstack import fresh_database
from tests.conftest import make_config
from tests.services import Services
from tests.streaming import until


async def test_an_outbox_record_is_appended_once_however_often_its_job_runs(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    key, subject = uuid.uuid4(), str(uuid.uuid4())
    # Concurrent runs (a job picked again while its first run still appends) and a late one.
    seqs = await asyncio.gather(
        *(
            service.log_event(app, "TICKET_REFUNDED", None, subject, {"reason": "x"}, key=key)
            for _ in range(4)
        )
    )
    seqs.append(
        await service.log_event(app, "TICKET_REFUNDED", None, subject, {"reason": "x"}, key=key)
    )
    other = await service.log_event(
        app, "TICKET_REFUNDED", None, subject, {"reason": "y"}, key=uuid.uuid4()
    )
    assert len(set(seqs)) == 1 and other != seqs[0]
    async with app[DB].acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM forensic_log WHERE subject = $1", subject)
    assert count == 2
    assert (await service.verify(app)).ok


async def test_the_daily_job_runs_from_the_job_queue_schedule(services: Services) -> None:
    dsn = await fresh_database(services.database_url, "mhc_daily")
    state = services.work_dir / dsn.rpartition("/")[2]
    runners = []
    for _ in range(2):  # two processes on one database: each tick is run by one of them
        cfg = make_config(
            services, DATABASE_URL=dsn, MHC_STATE_DIR=str(state), MHC_FORENSIC_CRON="* * * * * */2"
        )
        runner = web.AppRunner(create_app(cfg))
        await runner.setup()
        runners.append(runner)
    app = runners[0].app
    try:
        await asyncio.gather(
            *(
                service.log_event(app, "PLAYBACK_REVOKED", None, f"s-{i}", {"reason": "x"})
                for i in range(20)
            )
        )

        async def runs() -> list[Any]:
            async with app[DB].acquire() as conn:
                rows = await conn.fetch(
                    "SELECT run_for, outcome FROM forensic_job_runs WHERE job = 'daily-audit'"
                    " AND finished_at IS NOT NULL ORDER BY run_for"
                )
            return rows if len(rows) >= 2 else []

        done = await until(runs, 30, "two daily runs from the queue's schedule")
        assert all(r["outcome"] == "ok" for r in done), done
        assert len({r["run_for"] for r in done}) == len(done)
        assert list((state / "forensic-exports").iterdir()), "the first run exported a bundle"
    finally:
        for runner in runners:
            await runner.cleanup()
    conn = await asyncpg.connect(dsn)
    try:  # stopping let the runs in flight finish: none is left half done
        assert (
            await conn.fetchval("SELECT count(*) FROM forensic_job_runs WHERE finished_at IS NULL")
            == 0
        )
    finally:
        await conn.close()
