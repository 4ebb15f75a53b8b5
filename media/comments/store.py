"""The comments tables: comments with one level of replies, and mutes per artist."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

COLUMNS = "c.id, c.video_id, c.author_id, c.parent_id, c.body, c.created_at, u.display_name"
REPLIES_SHOWN = 50


async def insert(
    conn: asyncpg.Connection,
    comment_id: uuid.UUID,
    video_id: uuid.UUID,
    author_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    body: str,
    at: datetime,
) -> None:
    """Store a comment."""
    await conn.execute(
        """INSERT INTO video_comments (id, video_id, author_id, parent_id, body, created_at)
        VALUES ($1, $2, $3, $4, $5, $6)""",
        comment_id,
        video_id,
        author_id,
        parent_id,
        body,
        at,
    )


async def live_comment(
    conn: asyncpg.Connection, video_id: uuid.UUID, comment_id: uuid.UUID
) -> asyncpg.Record | None:
    """A comment of the video that is not deleted."""
    return await conn.fetchrow(
        """SELECT id, author_id, parent_id FROM video_comments
        WHERE id = $1 AND video_id = $2 AND deleted_at IS NULL""",
        comment_id,
        video_id,
    )


async def delete(
    conn: asyncpg.Connection,
    video_id: uuid.UUID,
    comment_id: uuid.UUID,
    by: uuid.UUID,
    at: datetime,
) -> bool:
    """Mark a comment deleted; False when there was none to delete."""
    done = await conn.fetchval(
        """UPDATE video_comments SET deleted_at = $4, deleted_by = $3
        WHERE id = $1 AND video_id = $2 AND deleted_at IS NULL RETURNING true""",
        comment_id,
        video_id,
        by,
        at,
    )
    return bool(done)


async def page(
    conn: asyncpg.Connection,
    video_id: uuid.UUID,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Top-level comments, newest first, older than `before`."""
    if before is None:
        rows: list[asyncpg.Record] = await conn.fetch(
            f"""SELECT {COLUMNS} FROM video_comments c JOIN users u ON u.id = c.author_id
            WHERE c.video_id = $1 AND c.parent_id IS NULL AND c.deleted_at IS NULL
            ORDER BY c.created_at DESC, c.id DESC LIMIT $2""",
            video_id,
            limit,
        )
        return rows
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM video_comments c JOIN users u ON u.id = c.author_id
        WHERE c.video_id = $1 AND c.parent_id IS NULL AND c.deleted_at IS NULL
          AND (c.created_at, c.id) < ($2, $3)
        ORDER BY c.created_at DESC, c.id DESC LIMIT $4""",
        video_id,
        before[0],
        before[1],
        limit,
    )
    return rows


async def replies(conn: asyncpg.Connection, parents: list[uuid.UUID]) -> list[asyncpg.Record]:
    """The first replies of each parent, oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT * FROM (
            SELECT {COLUMNS},
                row_number() OVER (PARTITION BY c.parent_id ORDER BY c.created_at, c.id) AS n
            FROM video_comments c JOIN users u ON u.id = c.author_id
            WHERE c.parent_id = ANY($1::uuid[]) AND c.deleted_at IS NULL) r
        WHERE n <= $2 ORDER BY created_at, id""",
        parents,
        REPLIES_SHOWN,
    )
    return rows


async def is_muted(conn: asyncpg.Connection, artist_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether the user is muted on the artist's videos."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM video_comment_mutes
            WHERE artist_id = $1 AND user_id = $2)""",
            artist_id,
            user_id,
        )
    )


async def mute(
    conn: asyncpg.Connection, artist_id: uuid.UUID, user_id: uuid.UUID, by: uuid.UUID, at: datetime
) -> None:
    """Mute a user on all of an artist's videos."""
    await conn.execute(
        """INSERT INTO video_comment_mutes (artist_id, user_id, muted_by, created_at)
        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        artist_id,
        user_id,
        by,
        at,
    )


async def unmute(conn: asyncpg.Connection, artist_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Lift a mute."""
    await conn.execute(
        "DELETE FROM video_comment_mutes WHERE artist_id = $1 AND user_id = $2", artist_id, user_id
    )
