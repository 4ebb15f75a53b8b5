"""The core's door to the forensic log: one call per state change that matters.

The forensics package installs the sink at setup; until then (or in a process without it)
calls are no-ops, so core code never depends on whether the audit trail is configured.
`record` is the transactional form: the event is enqueued on the job queue inside the
caller's transaction and appended by a retried job, so a committed change cannot lose its
record to a failure (or a crash) after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web

from server import jobs

AuditSink = Callable[
    [str, str | None, str | None, dict[str, Any], Mapping[str, Any] | None], Awaitable[Any]
]
AUDIT_SINK: web.AppKey[AuditSink] = web.AppKey("audit_sink")
# The job that appends a record enqueued by `record`; the forensics package registers it.
OUTBOX_JOB = "audit.record"


async def log(
    app: web.Application,
    event_type: str,
    *,
    actor: object = None,
    subject: object = None,
    personal: Mapping[str, Any] | None = None,
    **data: Any,
) -> None:
    """Append an event to the forensic log.

    `data` enters the hash chain, so it holds ids, amounts and reasons only; `personal`
    (an IP, an email) is stored encrypted under the subject's erasable key instead.
    """
    sink = app.get(AUDIT_SINK)
    if sink is not None:
        await sink(
            event_type,
            None if actor is None else str(actor),
            None if subject is None else str(subject),
            {k: _plain(v) for k, v in data.items()},
            personal,
        )


@dataclass(frozen=True)
class Entry:
    """One forensic record to queue with `record_many`."""

    event_type: str
    actor: object = None
    subject: object = None
    data: Mapping[str, Any] = field(default_factory=dict)


async def record(
    app: web.Application,
    conn: asyncpg.Connection,
    event_type: str,
    *,
    actor: object = None,
    subject: object = None,
    **data: Any,
) -> None:
    """Append an event once the caller's transaction on `conn` commits (never if it rolls
    back). No personal data: the queued payload is not encrypted."""
    await record_many(app, conn, [Entry(event_type, actor, subject, data)])


async def record_many(
    app: web.Application, conn: asyncpg.Connection, entries: Sequence[Entry]
) -> None:
    """`record` for many events in one round trip (a batch of postings, say)."""
    registry = app.get(jobs.JOBS)
    if registry is None or OUTBOX_JOB not in registry.jobs:
        return
    await jobs.enqueue_many(
        app,
        conn,
        OUTBOX_JOB,
        [
            {
                "key": str(uuid.uuid4()),
                "type": e.event_type,
                "actor": None if e.actor is None else str(e.actor),
                "subject": None if e.subject is None else str(e.subject),
                "data": {k: _plain(v) for k, v in e.data.items()},
            }
            for e in entries
        ],
    )


def _plain(value: Any) -> Any:
    """Ids and enums as strings: the chain holds JSON values only."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
