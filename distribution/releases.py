"""The releases table: an artist's uploads, their codes, metadata and pipeline state."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

Kind = Literal["insert", "update", "takedown"]


@dataclass(frozen=True)
class Release:
    """One release (a single) as stored."""

    id: uuid.UUID
    artist_id: uuid.UUID
    state: str
    progress: int
    reason: str | None
    revision: int
    pending_kind: Kind
    isrc: str
    upc: str
    iswc: str | None
    metadata: dict[str, Any]
    audio: dict[str, Any]
    cover: dict[str, Any]
    created_at: dt.datetime

    @property
    def title(self) -> str:
        """The release title."""
        return str(self.metadata["title"])

    @property
    def release_date(self) -> dt.date:
        """The street date."""
        return dt.date.fromisoformat(self.metadata["release_date"])


@dataclass(frozen=True)
class ReleasePipeline:
    """Where the release's own work stands: received, building, ready, failed, taken_down."""

    state: str
    progress: int
    reason: str | None


@dataclass(frozen=True)
class TrackOwner:
    """Whose recording an ISRC is."""

    release_id: uuid.UUID
    artist_id: uuid.UUID
    title: str


_COLUMNS = """id, artist_id, state, progress, reason, revision, pending_kind, isrc, upc, iswc,
    metadata, audio, cover, created_at"""


def _row(r: asyncpg.Record) -> Release:
    def obj(v: Any) -> dict[str, Any]:
        return v if isinstance(v, dict) else json.loads(v)

    return Release(
        r["id"],
        r["artist_id"],
        r["state"],
        r["progress"],
        r["reason"],
        r["revision"],
        r["pending_kind"],
        r["isrc"],
        r["upc"],
        r["iswc"],
        obj(r["metadata"]),
        obj(r["audio"]),
        obj(r["cover"]),
        r["created_at"],
    )


async def insert(
    conn: asyncpg.Connection,
    release_id: uuid.UUID,
    artist_id: uuid.UUID,
    isrc: str,
    upc: str,
    iswc: str | None,
    metadata: dict[str, Any],
    audio: dict[str, Any],
    cover: dict[str, Any],
) -> Release:
    """Store a new release in state `received`."""
    row = await conn.fetchrow(
        f"""INSERT INTO distribution_releases (id, artist_id, isrc, upc, iswc, metadata, audio, cover)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb) RETURNING {_COLUMNS}""",
        release_id,
        artist_id,
        isrc,
        upc,
        iswc,
        json.dumps(metadata),
        json.dumps(audio),
        json.dumps(cover),
    )
    return _row(row)


async def get(
    conn: asyncpg.Connection, release_id: uuid.UUID, *, lock: bool = False
) -> Release | None:
    """One release, or None (with `lock`, held until the transaction ends)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM distribution_releases WHERE id = $1"
        + (" FOR UPDATE" if lock else ""),
        release_id,
    )
    return None if row is None else _row(row)


async def listing(conn: asyncpg.Connection, artist_id: uuid.UUID) -> list[Release]:
    """An artist's releases, newest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM distribution_releases WHERE artist_id = $1 "
        "ORDER BY created_at DESC, id",
        artist_id,
    )
    return [_row(r) for r in rows]


async def owner(conn: asyncpg.Connection, release_id: uuid.UUID) -> uuid.UUID | None:
    """The artist a release belongs to, or None if there is no such release."""
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT artist_id FROM distribution_releases WHERE id = $1", release_id
    )
    return found


async def owners(conn: asyncpg.Connection, isrcs: Sequence[str]) -> dict[str, TrackOwner]:
    """The releases and artists of the known ISRCs among `isrcs` (compact form)."""
    rows = await conn.fetch(
        """SELECT isrc, id, artist_id, metadata->>'title' AS title FROM distribution_releases
           WHERE isrc = ANY($1::text[])""",
        list(set(isrcs)),
    )
    return {r["isrc"]: TrackOwner(r["id"], r["artist_id"], r["title"]) for r in rows}


async def pipeline(conn: asyncpg.Connection, release_id: uuid.UUID) -> ReleasePipeline | None:
    """The release's pipeline state, or None if there is no such release."""
    row = await conn.fetchrow(
        "SELECT state, progress, reason FROM distribution_releases WHERE id = $1", release_id
    )
    return None if row is None else ReleasePipeline(row["state"], row["progress"], row["reason"])


async def set_state(
    conn: asyncpg.Connection,
    release_id: uuid.UUID,
    state: str,
    progress: int,
    reason: str | None = None,
    *,
    revision: int | None = None,
) -> bool:
    """Move the pipeline on; with `revision`, only if no newer change superseded it."""
    done = await conn.execute(
        """UPDATE distribution_releases SET state = $2, progress = $3, reason = $4,
               updated_at = now()
           WHERE id = $1 AND ($5::int IS NULL OR revision = $5)""",
        release_id,
        state,
        progress,
        reason,
        revision,
    )
    return bool(done != "UPDATE 0")


async def revise(
    conn: asyncpg.Connection,
    release_id: uuid.UUID,
    kind: Kind,
    metadata: dict[str, Any] | None = None,
    iswc: str | None = None,
) -> Release:
    """A new revision (a correction or a takedown) waiting for its build."""
    row = await conn.fetchrow(
        f"""UPDATE distribution_releases SET revision = revision + 1, pending_kind = $2,
               metadata = coalesce($3::jsonb, metadata), iswc = coalesce($4, iswc),
               state = 'received', progress = 0, reason = NULL, updated_at = now()
           WHERE id = $1 RETURNING {_COLUMNS}""",
        release_id,
        kind,
        None if metadata is None else json.dumps(metadata),
        iswc,
    )
    return _row(row)


async def record_messages(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, uuid.UUID, str, str, int]]
) -> None:
    """Remember the messages built (message id, release, dsp, kind, revision)."""
    await conn.executemany(
        """INSERT INTO distribution_messages (message_id, release_id, dsp, kind, revision)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING""",
        rows,
    )


async def delivered(conn: asyncpg.Connection, release_id: uuid.UUID) -> bool:
    """Whether any message of the release was built for a store."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM distribution_messages WHERE release_id = $1)", release_id
    )
    return found
