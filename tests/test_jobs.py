"""The job queue: outbox semantics, one run per job across processes, retries, schedules."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from croniter import croniter

from server import jobs
from server.app import create_app
from server.clock import Clock
from server.jobs import queue
from server.jobs.registry import every
from server.keys import CONFIG, DB
from tests.streaming import until

Setup = Callable[[web.Application, str], None]


@pytest.fixture
async def workers(
    app_server: tuple[web.Application, str],
) -> AsyncIterator[Callable[..., Awaitable[list[web.Application]]]]:
    """Start app processes serving one queue, each with test jobs registered by `setup`."""
    runners: list[web.AppRunner] = []

    async def start(queue_name: str, setup: Setup, n: int = 2, **env: str) -> list[web.Application]:
        base = app_server[0][CONFIG]
        apps = []
        for i in range(n):
            cfg = dataclasses.replace(base, env={**base.env, "MHC_JOBS_QUEUE": queue_name, **env})
            app = create_app(cfg, Clock())
            setup(app, f"w{i}")
            runner = web.AppRunner(app)
            await runner.setup()
            runners.append(runner)
            apps.append(app)
        return apps

    yield start
    for runner in runners:
        await runner.cleanup()


async def _left(app: web.Application, queue_name: str) -> list[queue.JobState]:
    conn = await asyncpg.connect(app[CONFIG].database_url)
    try:
        return [j for j in await queue.listing(conn, 1000) if j.name.startswith(queue_name + ".")]
    finally:
        await conn.close()


async def test_each_job_runs_once_across_processes_and_only_if_its_transaction_commits(
    workers: Callable[..., Awaitable[list[web.Application]]],
) -> None:
    ran: list[tuple[str, int]] = []

    def setup(app: web.Application, name: str) -> None:
        async def count(app: web.Application, payload: dict[str, Any]) -> None:
            ran.append((name, payload["n"]))
            await asyncio.sleep(0.005)

        jobs.register(app, "test.count", count)

    a, _ = await workers("once", setup)
    async with a[DB].acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await jobs.enqueue(a, conn, "test.count", {"n": -1})
                raise RuntimeError("the change fails after its job was enqueued")
        async with conn.transaction():
            for n in range(300):
                await jobs.enqueue(a, conn, "test.count", {"n": n})

    async def drained() -> bool:
        return len(ran) >= 300 and not await _left(a, "once")

    await until(drained, 30, "both workers to drain the queue")
    assert sorted(n for _, n in ran) == list(range(300)), "each job once, the rolled-back never"
    assert {name for name, _ in ran} == {"w0", "w1"}, "both processes took work"


async def test_a_failing_job_is_retried_with_backoff_then_held_and_retried_by_hand(
    workers: Callable[..., Awaitable[list[web.Application]]],
) -> None:
    attempts: list[float] = []
    healthy = asyncio.Event()

    def setup(app: web.Application, name: str) -> None:
        async def flaky(app: web.Application, payload: dict[str, Any]) -> None:
            attempts.append(time.monotonic())
            if not healthy.is_set():
                raise ConnectionError("the service is down")

        jobs.register(app, "test.flaky", flaky)

    (app,) = await workers(
        "retry", setup, n=1, MHC_JOBS_MAX_ATTEMPTS="3", MHC_JOBS_RETRY_SECONDS="0.3"
    )
    async with app[DB].acquire() as conn:
        job_id = await jobs.enqueue(app, conn, "test.flaky", {})
    assert job_id is not None

    async def held() -> list[queue.JobState]:
        return [j for j in await _left(app, "retry") if j.status == "failed"]

    (failed,) = await until(held, 30, "the job to be held as failed")
    assert len(attempts) == 3 and failed.id == job_id
    assert failed.error and "ConnectionError: the service is down" in failed.error
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6, f"exponential backoff, got {gaps}"

    healthy.set()
    conn = await asyncpg.connect(app[CONFIG].database_url)
    try:
        assert await queue.retry(conn, job_id)
    finally:
        await conn.close()

    async def done() -> bool:
        return len(attempts) == 4 and not await _left(app, "retry")

    await until(done, 10, "the retried job to succeed")


async def test_a_schedule_runs_once_per_tick_across_processes(
    workers: Callable[..., Awaitable[list[web.Application]]],
) -> None:
    ticks: list[tuple[str, int]] = []

    def setup(app: web.Application, name: str) -> None:
        async def tick(app: web.Application) -> None:
            ticks.append((name, int(time.time())))

        jobs.schedule(app, "test.tick", "* * * * * *", tick)

    await workers("cron", setup, n=3)

    async def enough() -> bool:
        return len(ticks) >= 4

    await until(enough, 20, "four ticks")
    seconds = [s for _, s in ticks]
    assert len(seconds) == len(set(seconds)), f"a tick ran twice: {ticks}"


@pytest.mark.parametrize(
    ("seconds", "gaps"),
    [(30, {30}), (1, {1}), (45, {45, 15}), (300, {300}), (3600, {3600}), (7200, {3600})],
)
def test_every_gives_a_cron_with_about_that_period(seconds: int, gaps: set[int]) -> None:
    expression = every(seconds)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = croniter(expression, start).all_next(datetime)
    fires = [next(times) for _ in range(6)]
    assert {int((b - a).total_seconds()) for a, b in itertools.pairwise(fires)} == gaps
