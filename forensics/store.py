"""SQL for the forensic tables; nothing else touches them."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from forensics.chain import GENESIS_PREV, Record

# Appends from every process serialize on this lock, so there is exactly one chain.
APPEND_LOCK = 0x6D6863_F0


async def lock_and_tail(conn: asyncpg.Connection) -> tuple[int, bytes]:
    """Take the append lock (until commit) and return the last seq and hash."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
    return await _tail(conn)


async def try_lock_and_tail(conn: asyncpg.Connection) -> tuple[int, bytes] | None:
    """`lock_and_tail` when the append lock is free now; None when another process holds it."""
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", APPEND_LOCK):
        return None
    return await _tail(conn)


async def _tail(conn: asyncpg.Connection) -> tuple[int, bytes]:
    row = await conn.fetchrow("SELECT seq, hash FROM forensic_log ORDER BY seq DESC LIMIT 1")
    return (0, GENESIS_PREV) if row is None else (row["seq"], bytes(row["hash"]))


async def insert_records(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert (seq, ts, type, actor, subject, data, prev_hash, hash) rows in one round trip."""
    await conn.executemany(
        """INSERT INTO forensic_log (seq, ts, type, actor, subject, data, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        rows,
    )


def _copy_field(value: Any) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    text = json.dumps(value, separators=(",", ":")) if isinstance(value, dict) else str(value)
    return text.translate(_COPY_ESCAPES)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


async def copy_records(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Bulk-load rows shaped as for insert_records with COPY (under the append lock; the
    tiles are extended afterwards by tilestore.catch_up)."""
    text = "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)
    await conn.copy_to_table(
        "forensic_log",
        source=io.BytesIO(text.encode()),
        columns=["seq", "ts", "type", "actor", "subject", "data", "prev_hash", "hash"],
        format="text",
    )


def to_record(row: Any) -> Record:
    """A log row as a chain record."""
    return Record(
        row["seq"],
        row["ts"],
        row["type"],
        row["actor"],
        row["subject"],
        row["data"],
        bytes(row["prev_hash"]),
    )


async def iter_rows(
    conn: asyncpg.Connection, first: int, last: int | None, chunk: int = 5000
) -> AsyncIterator[asyncpg.Record]:
    """Rows first..last in physical seq order (use inside a transaction)."""
    async for row in conn.cursor(
        """SELECT seq, ts, type, actor, subject, data, prev_hash, hash FROM forensic_log
           WHERE seq >= $1 AND ($2::bigint IS NULL OR seq <= $2) ORDER BY seq""",
        first,
        last,
        prefetch=chunk,
    ):
        yield row


async def hashes(conn: asyncpg.Connection, last: int) -> list[bytes]:
    """Record hashes 1..last, in order (the Merkle leaves)."""
    rows = await conn.fetch("SELECT hash FROM forensic_log WHERE seq <= $1 ORDER BY seq", last)
    return [bytes(r["hash"]) for r in rows]


async def hashes_between(conn: asyncpg.Connection, first: int, last: int) -> list[bytes]:
    """Record hashes first..last, in order."""
    rows = await conn.fetch(
        "SELECT hash FROM forensic_log WHERE seq BETWEEN $1 AND $2 ORDER BY seq", first, last
    )
    return [bytes(r["hash"]) for r in rows]


async def record_hash(conn: asyncpg.Connection, seq: int) -> bytes | None:
    """The record hash of one record."""
    value = await conn.fetchval("SELECT hash FROM forensic_log WHERE seq = $1", seq)
    return None if value is None else bytes(value)


async def size(conn: asyncpg.Connection) -> int:
    """The number of records (the highest seq)."""
    return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM forensic_log"))


async def search(
    conn: asyncpg.Connection,
    *,
    event_type: str | None,
    actor: str | None,
    subject: str | None,
    since: datetime | None,
    until: datetime | None,
    after_seq: int,
    limit: int,
) -> list[asyncpg.Record]:
    """Filtered records, oldest first, keyset-paginated by seq."""
    return list(
        await conn.fetch(
            """SELECT seq, ts, type, actor, subject, data, prev_hash, hash FROM forensic_log
           WHERE seq > $1 AND ($2::text IS NULL OR type = $2)
             AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR subject = $4)
             AND ($5::timestamptz IS NULL OR ts >= $5) AND ($6::timestamptz IS NULL OR ts < $6)
           ORDER BY seq LIMIT $7""",
            after_seq,
            event_type,
            actor,
            subject,
            since,
            until,
            limit,
        )
    )


async def insert_checkpoint(
    conn: asyncpg.Connection, tree_size: int, root: bytes, note: str
) -> asyncpg.Record:
    """Store a signed checkpoint (or return the existing one of that size)."""
    row = await conn.fetchrow(
        """INSERT INTO forensic_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3)
           ON CONFLICT (tree_size) DO NOTHING RETURNING id, tree_size, root_hash, note, created_at""",
        tree_size,
        root,
        note,
    )
    if row is None:
        row = await checkpoint_of_size(conn, tree_size)
    assert row is not None
    return row


async def checkpoint_of_size(conn: asyncpg.Connection, tree_size: int) -> asyncpg.Record | None:
    """The checkpoint at a tree size."""
    return await conn.fetchrow(
        "SELECT id, tree_size, root_hash, note, created_at FROM forensic_checkpoints WHERE tree_size = $1",
        tree_size,
    )


async def checkpoints(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every signed checkpoint, smallest first."""
    return list(
        await conn.fetch(
            "SELECT id, tree_size, root_hash, note FROM forensic_checkpoints ORDER BY tree_size"
        )
    )


async def insert_timestamp(
    conn: asyncpg.Connection, checkpoint_id: int, tsa_url: str, response: bytes, gen_time: datetime
) -> None:
    """Store a verified RFC 3161 response for a checkpoint (the first one stays)."""
    await conn.execute(
        """INSERT INTO forensic_checkpoint_timestamps (checkpoint_id, tsa_url, response, gen_time)
           VALUES ($1, $2, $3, $4) ON CONFLICT (checkpoint_id) DO NOTHING""",
        checkpoint_id,
        tsa_url,
        response,
        gen_time,
    )


async def checkpoint_timestamp(
    conn: asyncpg.Connection, checkpoint_id: int
) -> asyncpg.Record | None:
    """A checkpoint's RFC 3161 response and time, if it has one."""
    return await conn.fetchrow(
        "SELECT response, gen_time, tsa_url FROM forensic_checkpoint_timestamps WHERE checkpoint_id = $1",
        checkpoint_id,
    )


async def checkpoint(conn: asyncpg.Connection, checkpoint_id: int) -> asyncpg.Record | None:
    """A checkpoint by id."""
    return await conn.fetchrow(
        "SELECT id, tree_size, root_hash, note, created_at FROM forensic_checkpoints WHERE id = $1",
        checkpoint_id,
    )


async def latest_checkpoint(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The newest checkpoint."""
    return await conn.fetchrow(
        """SELECT id, tree_size, root_hash, note, created_at FROM forensic_checkpoints
           ORDER BY tree_size DESC LIMIT 1"""
    )


async def last_export(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The newest export."""
    return await conn.fetchrow(
        """SELECT id, first_seq, last_seq, checkpoint_id, location, sha256, created_at
           FROM forensic_exports ORDER BY last_seq DESC, created_at DESC LIMIT 1"""
    )


async def insert_export(
    conn: asyncpg.Connection,
    export_id: uuid.UUID,
    first: int,
    last: int,
    checkpoint_id: int,
    previous_id: int | None,
    location: str,
    sha256: str,
) -> None:
    """Record an export bundle."""
    await conn.execute(
        """INSERT INTO forensic_exports (id, first_seq, last_seq, checkpoint_id,
                                         previous_checkpoint_id, location, sha256)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        export_id,
        first,
        last,
        checkpoint_id,
        previous_id,
        location,
        sha256,
    )


async def export(conn: asyncpg.Connection, export_id: uuid.UUID) -> asyncpg.Record | None:
    """An export by id."""
    return await conn.fetchrow(
        """SELECT id, first_seq, last_seq, checkpoint_id, previous_checkpoint_id, location,
                  sha256, created_at FROM forensic_exports WHERE id = $1""",
        export_id,
    )


async def subject_key(conn: asyncpg.Connection, subject: str, new_key: bytes) -> bytes | None:
    """The subject's data key, created on first use; None once the subject was erased."""
    row = await conn.fetchrow(
        """INSERT INTO forensic_subject_keys (subject, key) VALUES ($1, $2)
           ON CONFLICT (subject) DO UPDATE SET subject = EXCLUDED.subject
           RETURNING key""",
        subject,
        new_key,
    )
    return None if row is None or row["key"] is None else bytes(row["key"])


async def insert_personal(
    conn: asyncpg.Connection, ref: uuid.UUID, subject: str, nonce: bytes, ciphertext: bytes
) -> None:
    """Store one encrypted personal-data blob."""
    await conn.execute(
        """INSERT INTO forensic_personal_data (id, subject, nonce, ciphertext)
           VALUES ($1, $2, $3, $4)""",
        ref,
        subject,
        nonce,
        ciphertext,
    )


async def personal(conn: asyncpg.Connection, ref: uuid.UUID) -> asyncpg.Record | None:
    """An encrypted blob with its subject's key (NULL key once erased)."""
    return await conn.fetchrow(
        """SELECT p.subject, p.nonce, p.ciphertext, k.key FROM forensic_personal_data p
           JOIN forensic_subject_keys k USING (subject) WHERE p.id = $1""",
        ref,
    )


async def erase_subject(conn: asyncpg.Connection, subject: str, now: datetime) -> int:
    """Destroy a subject's key, or leave a tombstone if it has none yet, so nothing about
    the subject is stored readably afterwards; returns how many blobs became unreadable."""
    await conn.execute(
        """INSERT INTO forensic_subject_keys (subject, key, erased_at) VALUES ($1, NULL, $2)
           ON CONFLICT (subject) DO UPDATE SET key = NULL,
               erased_at = coalesce(forensic_subject_keys.erased_at, EXCLUDED.erased_at)""",
        subject,
        now,
    )
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM forensic_personal_data WHERE subject = $1", subject
        )
    )


async def claim_job(conn: asyncpg.Connection, job: str, run_for: datetime) -> bool:
    """True for exactly one process per (job, scheduled time)."""
    row = await conn.fetchrow(
        """INSERT INTO forensic_job_runs (job, run_for) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING job""",
        job,
        run_for,
    )
    return row is not None


async def finish_job(
    conn: asyncpg.Connection, job: str, run_for: datetime, outcome: str, now: datetime
) -> None:
    """Record how a job run ended."""
    await conn.execute(
        "UPDATE forensic_job_runs SET finished_at = $3, outcome = $4 WHERE job = $1 AND run_for = $2",
        job,
        run_for,
        now,
        outcome,
    )


async def outbox_seqs(conn: asyncpg.Connection, keys: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The seqs of records already appended under these outbox keys."""
    rows = await conn.fetch(
        "SELECT key, seq FROM forensic_outbox_keys WHERE key = ANY($1::uuid[])", list(keys)
    )
    return {r["key"]: r["seq"] for r in rows}


async def remember_outbox(conn: asyncpg.Connection, pairs: Sequence[tuple[uuid.UUID, int]]) -> None:
    """Note which record each outbox key became (in the append's transaction)."""
    await conn.executemany("INSERT INTO forensic_outbox_keys (key, seq) VALUES ($1, $2)", pairs)
