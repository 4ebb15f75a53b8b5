"""SQL for the videos and video_uploads tables; nothing else touches them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from media.videos.video import Video

_COLUMNS = """id, artist_id, title, description, tags, realm, visibility, state, progress,
              failure, duration_s, width, height, created_at, ready_at"""


def _video(row: asyncpg.Record) -> Video:
    return Video(
        id=row["id"],
        artist_id=row["artist_id"],
        title=row["title"],
        description=row["description"],
        tags=tuple(row["tags"]),
        realm=row["realm"],
        visibility=row["visibility"],
        state=row["state"],
        progress=row["progress"],
        failure=row["failure"],
        duration_s=row["duration_s"],
        width=row["width"],
        height=row["height"],
        created_at=row["created_at"],
        ready_at=row["ready_at"],
    )


@dataclass(frozen=True)
class Upload:
    """A resumable upload and how much of it has arrived."""

    id: uuid.UUID
    video_id: uuid.UUID
    artist_id: uuid.UUID
    length: int
    received: int
    touched_at: datetime
    completed: bool


def _upload(row: asyncpg.Record) -> Upload:
    return Upload(
        row["id"],
        row["video_id"],
        row["artist_id"],
        row["length"],
        row["received"],
        row["touched_at"],
        row["completed_at"] is not None,
    )


async def create(
    conn: asyncpg.Connection,
    video_id: uuid.UUID,
    upload_id: uuid.UUID,
    artist_id: uuid.UUID,
    length: int,
    filename: str,
    meta: dict[str, Any],
) -> Video:
    """A new video in state uploading, and its upload."""
    row = await conn.fetchrow(
        f"""INSERT INTO videos (id, artist_id, title, description, tags, realm, visibility, state)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 'uploading') RETURNING {_COLUMNS}""",
        video_id,
        artist_id,
        meta["title"],
        meta.get("description", ""),
        list(meta.get("tags", ())),
        meta["realm"],
        meta["visibility"],
    )
    await conn.execute(
        """INSERT INTO video_uploads (id, video_id, artist_id, length, filename)
           VALUES ($1, $2, $3, $4, $5)""",
        upload_id,
        video_id,
        artist_id,
        length,
        filename,
    )
    return _video(row)


async def get(conn: asyncpg.Connection, video_id: uuid.UUID) -> Video | None:
    """A video that is not deleted."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM videos WHERE id = $1 AND deleted_at IS NULL", video_id
    )
    return None if row is None else _video(row)


async def by_artist(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    states: tuple[str, ...],
    visibilities: tuple[str, ...],
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Video]:
    """An artist's videos in `states` and `visibilities`, newest first, after a keyset."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM videos
            WHERE artist_id = $1 AND deleted_at IS NULL
              AND state = ANY($2::text[]) AND visibility = ANY($3::text[])
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
            ORDER BY created_at DESC, id DESC LIMIT $6""",
        artist_id,
        list(states),
        list(visibilities),
        None if before is None else before[0],
        None if before is None else before[1],
        limit,
    )
    return [_video(r) for r in rows]


async def edit(conn: asyncpg.Connection, video_id: uuid.UUID, changes: dict[str, Any]) -> Video:
    """Apply metadata changes (keys are column names checked by the caller)."""
    names = sorted(changes)
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE videos SET {sets} WHERE id = $1 AND deleted_at IS NULL RETURNING {_COLUMNS}",
        video_id,
        *(list(changes[n]) if n == "tags" else changes[n] for n in names),
    )
    assert row is not None, "the caller holds the video's row"
    return _video(row)


async def lock(conn: asyncpg.Connection, video_id: uuid.UUID) -> Video | None:
    """The video, its row locked for the caller's transaction."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM videos WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", video_id
    )
    return None if row is None else _video(row)


async def mark_deleted(conn: asyncpg.Connection, video_id: uuid.UUID) -> uuid.UUID | None:
    """Delete a video (its row stays as a tombstone); returns its upload id if it had one."""
    await conn.execute("UPDATE videos SET deleted_at = now() WHERE id = $1", video_id)
    return await conn.fetchval(  # type: ignore[no-any-return]
        "DELETE FROM video_uploads WHERE video_id = $1 RETURNING id", video_id
    )


async def set_progress(conn: asyncpg.Connection, video_id: uuid.UUID, progress: int) -> bool:
    """Record transcoding progress; False when the video is gone or no longer processing."""
    done = await conn.execute(
        """UPDATE videos SET progress = $2
           WHERE id = $1 AND deleted_at IS NULL AND state = 'processing'""",
        video_id,
        progress,
    )
    return bool(done != "UPDATE 0")


async def set_ready(
    conn: asyncpg.Connection,
    video_id: uuid.UUID,
    duration: float,
    width: int,
    height: int,
) -> Video | None:
    """Processing finished; None when the video was deleted meanwhile."""
    row = await conn.fetchrow(
        f"""UPDATE videos SET state = 'ready', progress = 100, failure = NULL, duration_s = $2,
                   width = $3, height = $4, ready_at = now()
            WHERE id = $1 AND deleted_at IS NULL AND state = 'processing'
            RETURNING {_COLUMNS}""",
        video_id,
        duration,
        width,
        height,
    )
    return None if row is None else _video(row)


async def set_failed(conn: asyncpg.Connection, video_id: uuid.UUID, reason: str) -> Video | None:
    """Processing refused the file."""
    row = await conn.fetchrow(
        f"""UPDATE videos SET state = 'failed', failure = $2
            WHERE id = $1 AND deleted_at IS NULL AND state = 'processing'
            RETURNING {_COLUMNS}""",
        video_id,
        reason,
    )
    return None if row is None else _video(row)


# ---- uploads -------------------------------------------------------------------------------


async def upload(conn: asyncpg.Connection, upload_id: uuid.UUID) -> Upload | None:
    """An upload of a video that still exists."""
    row = await conn.fetchrow(
        """SELECT id, video_id, artist_id, length, received, touched_at, completed_at
           FROM video_uploads WHERE id = $1""",
        upload_id,
    )
    return None if row is None else _upload(row)


async def claim(
    conn: asyncpg.Connection, upload_id: uuid.UUID, offset: int, lease_seconds: float
) -> bool:
    """Hold an open upload for one PATCH starting at `offset`; False if it is held by another
    PATCH or the offset is not where the upload stands."""
    done = await conn.execute(
        """UPDATE video_uploads
           SET busy_until = now() + make_interval(secs => $3), touched_at = now()
           WHERE id = $1 AND received = $2 AND completed_at IS NULL
             AND (busy_until IS NULL OR busy_until < now())""",
        upload_id,
        offset,
        lease_seconds,
    )
    return bool(done != "UPDATE 0")


async def extend(conn: asyncpg.Connection, upload_id: uuid.UUID, lease_seconds: float) -> None:
    """Keep holding an upload through a long PATCH."""
    await conn.execute(
        """UPDATE video_uploads SET busy_until = now() + make_interval(secs => $2),
           touched_at = now() WHERE id = $1""",
        upload_id,
        lease_seconds,
    )


async def release(conn: asyncpg.Connection, upload_id: uuid.UUID, received: int) -> Upload | None:
    """Record what a PATCH stored and let go of the upload (marked complete when whole)."""
    row = await conn.fetchrow(
        """UPDATE video_uploads SET received = $2, busy_until = NULL, touched_at = now(),
               completed_at = CASE WHEN $2 = length THEN now() END
           WHERE id = $1
           RETURNING id, video_id, artist_id, length, received, touched_at, completed_at""",
        upload_id,
        received,
    )
    return None if row is None else _upload(row)


async def start_processing(conn: asyncpg.Connection, video_id: uuid.UUID) -> Video | None:
    """The upload is whole: the video moves on to processing."""
    row = await conn.fetchrow(
        f"""UPDATE videos SET state = 'processing', progress = 0
            WHERE id = $1 AND deleted_at IS NULL AND state = 'uploading'
            RETURNING {_COLUMNS}""",
        video_id,
    )
    return None if row is None else _video(row)


async def stale_uploads(
    conn: asyncpg.Connection, older_than_seconds: float, limit: int = 500
) -> list[Upload]:
    """Unfinished uploads untouched for longer than the expiry, their rows locked."""
    rows = await conn.fetch(
        """SELECT id, video_id, artist_id, length, received, touched_at, completed_at
           FROM video_uploads
           WHERE completed_at IS NULL
             AND touched_at < now() - make_interval(secs => $1)
             AND (busy_until IS NULL OR busy_until < now())
           ORDER BY touched_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        older_than_seconds,
        limit,
    )
    return [_upload(r) for r in rows]


async def upload_of(conn: asyncpg.Connection, video_id: uuid.UUID) -> uuid.UUID | None:
    """The id of a video's upload (its source file's name)."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT id FROM video_uploads WHERE video_id = $1", video_id
    )
