"""The queue's tables (pgqueuer's schema), enqueueing in the caller's transaction, and the
state operators see."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web
from pgqueuer import AsyncpgDriver, Queries
from pgqueuer.models import Job

from server.jobs.registry import JOBS

# pgqueuer's statuses as operators read them.
SHOWN = {"queued": "queued", "picked": "running", "failed": "failed"}


class _Driver(AsyncpgDriver):
    """pgqueuer over one of the pool's connections. The pool encodes jsonb from Python values,
    while pgqueuer passes JSON text: its jsonb array parameters are sent as text and cast by
    PostgreSQL, so neither encodes twice."""

    async def fetch(self, query: str, *args: object) -> list[dict[str, object]]:
        rows = await super().fetch(query.replace("::jsonb[]", "::text[]::jsonb[]"), *args)
        for row in rows:  # and what the pool decoded goes back to the text pgqueuer parses
            if isinstance(row.get("traceback"), dict):
                row["traceback"] = json.dumps(row["traceback"])
        return rows

    async def execute(self, query: str, *args: object) -> str:
        return await super().execute(query.replace("::jsonb[]", "::text[]::jsonb[]"), *args)


def queries(conn: asyncpg.Connection) -> Queries:
    """pgqueuer's queries over `conn` (a pool connection or a plain one)."""
    return Queries(_Driver(conn))


async def install(conn: asyncpg.Connection) -> bool:
    """Create pgqueuer's tables, or bring them to this version's shape; True if it did
    anything. Callers serialize it (`db.migrate` holds the migration lock)."""
    q = queries(conn)
    if not await q.schema_is_installed():
        async with conn.transaction():
            await q.install()
        return True
    return bool((await q.apply_upgrade()).statements)


async def enqueue(
    app: web.Application,
    conn: asyncpg.Connection,
    name: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    delay: timedelta | None = None,
) -> int | None:
    """Queue job `name` on `conn`, inside the caller's transaction when it has one: the job
    exists only if that transaction commits. With `dedupe_key`, a job with the same key that
    is still queued or running absorbs this one (None is returned)."""
    jobs = app[JOBS]
    if name not in jobs.jobs:
        raise KeyError(f"no job named {name!r} is registered")
    key = None if dedupe_key is None else jobs.entrypoint(dedupe_key)
    ids = await queries(conn).enqueue(
        jobs.entrypoint(name),
        json.dumps(payload).encode(),
        execute_after=delay,
        dedupe_key=key,
        on_conflict="skip",
    )
    return None if ids[0] is None else int(ids[0])


async def enqueue_many(
    app: web.Application, conn: asyncpg.Connection, name: str, payloads: Sequence[dict[str, Any]]
) -> None:
    """Queue one job `name` per payload in one statement, like `enqueue` (no dedupe keys):
    a burst of outbox work costs one round trip instead of one per job."""
    if not payloads:
        return
    jobs = app[JOBS]
    if name not in jobs.jobs:
        raise KeyError(f"no job named {name!r} is registered")
    await queries(conn).enqueue(
        [jobs.entrypoint(name)] * len(payloads),
        [json.dumps(payload).encode() for payload in payloads],
        [0] * len(payloads),
    )


@dataclass(frozen=True)
class JobState:
    """One job as `mhc jobs` shows it."""

    id: int
    name: str
    status: str
    attempts: int
    created: datetime
    run_after: datetime
    payload: str
    error: str | None = None


def _state(job: Job, error: str | None = None) -> JobState:
    return JobState(
        int(job.id),
        str(job.entrypoint),
        SHOWN.get(job.status, job.status),
        job.attempts,
        job.created,
        job.execute_after,
        (job.payload or b"").decode("utf-8", "replace"),
        error,
    )


async def listing(conn: asyncpg.Connection, limit: int = 200) -> list[JobState]:
    """Queued, running and failed jobs, newest first; a failed one carries its last error."""
    q = queries(conn)
    rows = await q.browse_queue(limit=limit, statuses=["queued", "picked", "failed"])
    out = []
    for job in sorted(rows, key=lambda j: j.id, reverse=True):
        error = None
        if job.status == "failed":
            error = await last_error(conn, int(job.id))
        out.append(_state(job, error))
    return out


async def last_error(conn: asyncpg.Connection, job_id: int) -> str | None:
    """The last exception a job raised, as one line."""
    history = await queries(conn).job_log_history(job_id)  # type: ignore[arg-type]
    for entry in reversed(history):
        if entry.traceback is not None:
            return f"{entry.traceback.exception_type}: {entry.traceback.exception_message}"
    return None


async def get(conn: asyncpg.Connection, job_id: int) -> JobState | None:
    """One job in the queue (queued, running or failed), or None."""
    job = await queries(conn).queue_job_by_id(job_id)  # type: ignore[arg-type]
    return None if job is None else _state(job)


async def retry(conn: asyncpg.Connection, job_id: int) -> bool:
    """Queue a failed job again with a fresh count of attempts; False if it is not failed."""
    job = await get(conn, job_id)
    if job is None or job.status != "failed":
        return False
    await queries(conn).requeue_jobs([job_id])  # type: ignore[list-item]
    await wake(conn)
    return True


async def wake(conn: asyncpg.Connection) -> None:
    """Wake the idle workers as an insert would: pgqueuer's trigger announces inserts only,
    so a job queued again by an update (a retry) is otherwise seen at the next poll."""
    q = queries(conn)
    channel = q.qbe.settings.channel
    await conn.execute(
        """SELECT pg_notify($1, json_build_object('channel', $1::text, 'operation', 'update',
               'sent_at', now(), 'table', $2::text, 'type', 'table_changed_event')::text)""",
        channel,
        q.qbe.settings.queue_table,
    )
