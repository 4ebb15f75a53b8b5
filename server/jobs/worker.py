"""The worker: runs the registered jobs and schedules of an app on pgqueuer.

It holds its own connection (pgqueuer LISTENs for new jobs on it). A job that raises is
queued again after an exponential backoff; after MHC_JOBS_MAX_ATTEMPTS it is held as failed.
A worker that dies mid-job stops its heartbeat, and the job is picked again once the
heartbeat is stale. On shutdown the jobs in flight finish first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web
from pgqueuer import DatabaseRetryEntrypointExecutor, PgQueuer, RetryRequested
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Context
from pgqueuer.models import Job as QueuedJob
from pgqueuer.models import Schedule as Tick

from server.jobs.queue import _Driver, wake
from server.jobs.registry import JOBS, Job, Jobs, Schedule
from server.keys import CONFIG, DB

log = logging.getLogger(__name__)
# A running job beats every half of this; a job whose beat is this old is picked again.
HEARTBEAT_TIMEOUT = timedelta(seconds=30)
SHUTDOWN_GRACE = 30.0


def _job_entry(app: web.Application, job: Job) -> Any:
    async def run(queued: QueuedJob) -> None:
        payload = json.loads(queued.payload) if queued.payload else {}
        await job.run(app, payload)

    return run


def _schedule_entry(app: web.Application, sched: Schedule) -> Any:
    async def run(tick: Tick) -> None:
        await sched.run(app)

    return run


def build(app: web.Application, conn: asyncpg.Connection) -> PgQueuer:
    """A pgqueuer application serving this app's jobs and schedules on `conn`."""
    jobs: Jobs = app[JOBS]
    cfg = jobs.config
    pgq = PgQueuer(_Driver(conn))
    waker = _waker(app)
    for job in jobs.jobs.values():
        factory = functools.partial(
            _retrying, cfg.max_attempts, cfg.retry_seconds, cfg.max_retry_seconds, waker
        )
        pgq.entrypoint(
            jobs.entrypoint(job.name),
            concurrency_limit=job.concurrency,
            on_failure="hold",
            executor_factory=factory,
        )(_job_entry(app, job))
    for sched in jobs.schedules.values():
        pgq.schedule(jobs.entrypoint(sched.name), sched.cron, clean_old=True)(
            _schedule_entry(app, sched)
        )
    return pgq


@dataclasses.dataclass
class _Retrying(DatabaseRetryEntrypointExecutor):
    """pgqueuer's retries, plus a wake-up when a retry is due. pgqueuer re-queues a failed
    job with an update, which announces nothing; an idle worker picks the job up early only
    when it failed before the worker chose how long to sleep (within a few queries), so a job
    that failed later waited for the next poll (30 s) instead of its backoff."""

    wake: Callable[[float], None] = lambda _delay: None

    async def execute(self, job: QueuedJob, context: Context) -> None:
        try:
            await super().execute(job, context)
        except RetryRequested as retry:
            self.wake(retry.delay.total_seconds())
            raise


def _retrying(
    max_attempts: int,
    first: float,
    longest: float,
    wake: Callable[[float], None],
    parameters: EntrypointExecutorParameters,
) -> DatabaseRetryEntrypointExecutor:
    # pgqueuer counts retries after the first run; the setting counts runs in all.
    return _Retrying(
        parameters,
        max_attempts=max_attempts - 1,
        initial_delay=timedelta(seconds=first),
        max_delay=timedelta(seconds=longest),
        wake=wake,
    )


def _waker(app: web.Application) -> Callable[[float], None]:
    """Announce, `delay` seconds from now, that a retried job is due."""
    tasks: set[asyncio.Task[None]] = set()

    async def notify() -> None:
        try:
            async with app[DB].acquire() as conn:
                await wake(conn)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            log.debug("could not wake the workers for a retry", exc_info=True)

    def start() -> None:
        task = asyncio.create_task(notify())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def later(delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, start)

    return later


async def run(app: web.Application, stop: asyncio.Event) -> None:
    """Serve the queue until `stop` is set; jobs in flight then finish (within a grace)."""
    dsn = app[CONFIG].database_url
    assert dsn, "DATABASE_URL must be set"
    conn = await asyncpg.connect(dsn)
    try:
        pgq = build(app, conn)
        task = asyncio.create_task(
            pgq.run(batch_size=app[JOBS].config.concurrency, heartbeat_timeout=HEARTBEAT_TIMEOUT),
            name="job-worker",
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        pgq.shutdown.set()
        done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_GRACE)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await conn.close()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(_supervise(app, stop), name="job-worker-supervisor")
    yield
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _supervise(app: web.Application, stop: asyncio.Event) -> None:
    """Keep a worker running; one that fails (a lost connection) is started again."""
    while not stop.is_set():
        try:
            await run(app, stop)
        except Exception:
            log.exception("the job worker stopped; starting it again")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


def start_worker(app: web.Application) -> None:
    """Run a worker for the app's lifetime, unless MHC_JOBS_WORKER=off. Call it after every
    package's setup, so the worker stops before what its jobs use."""
    if app[JOBS].config.worker:
        app.cleanup_ctx.append(_worker_ctx)
