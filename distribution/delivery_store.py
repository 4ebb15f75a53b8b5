"""The batches and deliveries tables: one row per DDEX batch, one per release package in it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import asyncpg

from distribution.package import PackageFile, ReleasePackage

State = Literal["queued", "uploading", "delivered", "acknowledged", "rejected", "live", "failed"]
# Where each acknowledgement may move a delivery: never back, never out of a final state.
FORWARD: dict[str, frozenset[str]] = {
    "acknowledged": frozenset({"delivered"}),
    "rejected": frozenset({"delivered", "acknowledged"}),
    "live": frozenset({"delivered", "acknowledged"}),
}


@dataclass(frozen=True)
class Delivery:
    """One release package in a batch."""

    id: uuid.UUID
    release_id: uuid.UUID
    dsp: str
    batch_id: str
    message_id: str
    kind: str
    folder: Path
    message_file: str
    files: tuple[PackageFile, ...]
    state: State
    reason: str | None


@dataclass(frozen=True)
class Batch:
    """A DDEX batch for one DSP and the deliveries it carries."""

    dsp: str
    id: str
    state: str
    reason: str | None
    attempts: tuple[datetime, ...]
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True)
class DeliveryStatus:
    """Where a release stands at one DSP."""

    dsp: str
    state: State
    reason: str | None
    updated_at: datetime


async def insert_batch(
    conn: asyncpg.Connection, dsp: str, batch_id: str, packages: list[ReleasePackage]
) -> None:
    """Record a queued batch and its deliveries."""
    await conn.execute("INSERT INTO distribution_batches (dsp, id) VALUES ($1, $2)", dsp, batch_id)
    await conn.executemany(
        """INSERT INTO distribution_deliveries
               (id, release_id, dsp, batch_id, message_id, kind, folder, message_file, files)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)""",
        [
            (
                uuid.uuid4(),
                p.release_id,
                dsp,
                batch_id,
                p.message_id,
                p.kind,
                str(p.folder),
                p.message_file,
                json.dumps([[f.relpath, f.size, f.md5] for f in p.files]),
            )
            for p in packages
        ],
    )


def _delivery(row: asyncpg.Record) -> Delivery:
    files = json.loads(row["files_json"])
    return Delivery(
        id=row["id"],
        release_id=row["release_id"],
        dsp=row["dsp"],
        batch_id=row["batch_id"],
        message_id=row["message_id"],
        kind=row["kind"],
        folder=Path(row["folder"]),
        message_file=row["message_file"],
        files=tuple(PackageFile(str(p), int(s), str(m)) for p, s, m in files),
        state=row["state"],
        reason=row["reason"],
    )


async def start_attempt(conn: asyncpg.Connection, dsp: str, batch_id: str) -> Batch | None:
    """Count an attempt at an unfinished batch and mark it uploading; None when it is
    complete or failed already (a repeated job does nothing)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """UPDATE distribution_batches
                  SET state = 'uploading', attempts = attempts || now()
                WHERE dsp = $1 AND id = $2 AND state IN ('queued', 'uploading')
            RETURNING dsp, id, state, reason, attempts""",
            dsp,
            batch_id,
        )
        if row is None:
            return None
        rows = await conn.fetch(
            """UPDATE distribution_deliveries SET state = 'uploading', updated_at = now()
                WHERE dsp = $1 AND batch_id = $2 AND state IN ('queued', 'uploading')
            RETURNING *, files::text AS files_json""",
            dsp,
            batch_id,
        )
    return Batch(
        row["dsp"],
        row["id"],
        row["state"],
        row["reason"],
        tuple(row["attempts"]),
        tuple(sorted((_delivery(r) for r in rows), key=lambda d: d.message_id)),
    )


async def note(conn: asyncpg.Connection, dsp: str, batch_id: str, reason: str) -> None:
    """Keep why the last attempt failed while the batch waits for its next one."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE distribution_batches SET reason = $3 WHERE dsp = $1 AND id = $2",
            dsp,
            batch_id,
            reason,
        )
        await conn.execute(
            """UPDATE distribution_deliveries SET reason = $3, updated_at = now()
                WHERE dsp = $1 AND batch_id = $2 AND state = 'uploading'""",
            dsp,
            batch_id,
            reason,
        )


async def finish(
    conn: asyncpg.Connection, dsp: str, batch_id: str, *, failed: str | None = None
) -> None:
    """Mark a batch complete (its deliveries delivered) or failed with a reason."""
    batch_state, delivery_state = ("failed", "failed") if failed else ("complete", "delivered")
    async with conn.transaction():
        await conn.execute(
            """UPDATE distribution_batches SET state = $3, reason = $4, completed_at = now()
                WHERE dsp = $1 AND id = $2 AND state IN ('queued', 'uploading')""",
            dsp,
            batch_id,
            batch_state,
            failed,
        )
        await conn.execute(
            """UPDATE distribution_deliveries SET state = $3, reason = $4, updated_at = now()
                WHERE dsp = $1 AND batch_id = $2 AND state IN ('queued', 'uploading')""",
            dsp,
            batch_id,
            delivery_state,
            failed,
        )


async def batch(conn: asyncpg.Connection, dsp: str, batch_id: str) -> Batch | None:
    """One batch with its deliveries."""
    row = await conn.fetchrow(
        "SELECT dsp, id, state, reason, attempts FROM distribution_batches"
        " WHERE dsp = $1 AND id = $2",
        dsp,
        batch_id,
    )
    if row is None:
        return None
    rows = await conn.fetch(
        "SELECT *, files::text AS files_json FROM distribution_deliveries"
        " WHERE dsp = $1 AND batch_id = $2"
        " ORDER BY message_id",
        dsp,
        batch_id,
    )
    return Batch(
        row["dsp"],
        row["id"],
        row["state"],
        row["reason"],
        tuple(row["attempts"]),
        tuple(_delivery(r) for r in rows),
    )


async def batches_of(conn: asyncpg.Connection, release_id: uuid.UUID) -> list[tuple[str, str]]:
    """The (dsp, batch id) pairs that carry a release, oldest first."""
    rows = await conn.fetch(
        "SELECT dsp, batch_id FROM distribution_deliveries WHERE release_id = $1"
        " ORDER BY created_at",
        release_id,
    )
    return [(r["dsp"], r["batch_id"]) for r in rows]


async def awaiting_acks(conn: asyncpg.Connection, dsp: str) -> list[str]:
    """Batches of a DSP with deliveries the store has not finished with."""
    rows = await conn.fetch(
        """SELECT DISTINCT batch_id FROM distribution_deliveries
            WHERE dsp = $1 AND state IN ('delivered', 'acknowledged') ORDER BY batch_id""",
        dsp,
    )
    return [r["batch_id"] for r in rows]


async def advance(
    conn: asyncpg.Connection,
    dsp: str,
    batch_id: str,
    message_id: str | None,
    state: State,
    reason: str | None,
) -> int:
    """Move deliveries forward after an acknowledgement (all of the batch's when the
    message is not named); returns how many moved."""
    result: str = await conn.execute(
        """UPDATE distribution_deliveries SET state = $4, reason = $5, updated_at = now()
            WHERE dsp = $1 AND batch_id = $2 AND ($3::text IS NULL OR message_id = $3)
              AND state = ANY($6::text[])""",
        dsp,
        batch_id,
        message_id,
        state,
        reason,
        sorted(FORWARD[state]),
    )
    return int(result.split()[-1])


async def statuses(conn: asyncpg.Connection, release_id: uuid.UUID) -> list[DeliveryStatus]:
    """The latest delivery of a release at each DSP."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (dsp) dsp, state, reason, updated_at
             FROM distribution_deliveries WHERE release_id = $1
            ORDER BY dsp, created_at DESC, message_id DESC""",
        release_id,
    )
    return [DeliveryStatus(r["dsp"], r["state"], r["reason"], r["updated_at"]) for r in rows]


async def reopen_failed(conn: asyncpg.Connection, dsp: str) -> list[str]:
    """Put a DSP's failed batches back in the queue state with a fresh count of attempts;
    returns their ids. What reached the server stays there and is not sent again."""
    rows = await conn.fetch(
        """UPDATE distribution_batches SET state = 'queued', reason = NULL, attempts = '{}',
                  completed_at = NULL
            WHERE dsp = $1 AND state = 'failed' RETURNING id""",
        dsp,
    )
    ids = sorted(r["id"] for r in rows)
    await conn.execute(
        """UPDATE distribution_deliveries SET state = 'queued', reason = NULL, updated_at = now()
            WHERE dsp = $1 AND batch_id = ANY($2) AND state = 'failed'""",
        dsp,
        ids,
    )
    return ids


async def listing(conn: asyncpg.Connection, limit: int = 200) -> list[Batch]:
    """The latest batches of every DSP, newest first, with their deliveries."""
    rows = await conn.fetch(
        "SELECT dsp, id FROM distribution_batches ORDER BY created_at DESC, id DESC LIMIT $1",
        limit,
    )
    found = []
    for r in rows:
        one = await batch(conn, r["dsp"], r["id"])
        if one is not None:
            found.append(one)
    return found
