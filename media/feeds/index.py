"""The feed index: one row per video that may appear in a feed, and its trending heat.

The video pipeline calls `index` and `unindex` in its own transaction whenever a video becomes
ready, is edited or is deleted; engagement calls `add_heat` and `mark_seen`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from media.feeds import heat


@dataclass(frozen=True)
class FeedEntry:
    """What a feed needs to know about a video."""

    video_id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    realm: str
    visibility: str
    tags: tuple[str, ...]
    duration_s: float | None
    published_at: datetime


async def index(conn: asyncpg.Connection, entry: FeedEntry) -> None:
    """Add a video to the feeds, or update its fields (its heat is kept)."""
    await conn.execute(
        """INSERT INTO feed_entries (video_id, artist_id, title, realm, visibility, tags,
                                     duration_s, published_at, hot)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (video_id) DO UPDATE SET
            artist_id = EXCLUDED.artist_id, title = EXCLUDED.title, realm = EXCLUDED.realm,
            visibility = EXCLUDED.visibility, tags = EXCLUDED.tags,
            duration_s = EXCLUDED.duration_s, published_at = EXCLUDED.published_at""",
        entry.video_id,
        entry.artist_id,
        entry.title,
        entry.realm,
        entry.visibility,
        list(entry.tags),
        entry.duration_s,
        entry.published_at,
        heat.term(heat.PUBLISH, entry.published_at),
    )


async def unindex(conn: asyncpg.Connection, video_id: uuid.UUID) -> None:
    """Take a video out of every feed."""
    await conn.execute("DELETE FROM feed_entries WHERE video_id = $1", video_id)


async def add_heat(
    conn: asyncpg.Connection, video_id: uuid.UUID, weight: float, at: datetime
) -> None:
    """Add one engagement of `weight` at `at` to a video's trending heat."""
    if weight <= 0:
        return
    await conn.execute(
        """UPDATE feed_entries
        SET hot = greatest(hot, $2) + ln(1 + exp(-abs(hot - $2)))
        WHERE video_id = $1""",
        video_id,
        heat.term(weight, at),
    )


async def mark_seen(
    conn: asyncpg.Connection, account_id: uuid.UUID, video_id: uuid.UUID, at: datetime
) -> None:
    """Remember that a signed-in viewer has seen a video (discovery prefers unseen ones)."""
    await conn.execute(
        """INSERT INTO feed_seen (account_id, video_id, seen_at) VALUES ($1, $2, $3)
        ON CONFLICT (account_id, video_id) DO UPDATE SET seen_at = EXCLUDED.seen_at""",
        account_id,
        video_id,
        at,
    )


_ENTRY = "video_id, artist_id, title, realm, visibility, tags, duration_s, published_at"


def _entry(row: asyncpg.Record) -> FeedEntry:
    return FeedEntry(
        video_id=row["video_id"],
        artist_id=row["artist_id"],
        title=row["title"],
        realm=row["realm"],
        visibility=row["visibility"],
        tags=tuple(row["tags"]),
        duration_s=row["duration_s"],
        published_at=row["published_at"],
    )


async def entry(conn: asyncpg.Connection, video_id: uuid.UUID) -> FeedEntry | None:
    """A video's feed entry, or None when it is not indexed."""
    row = await conn.fetchrow(f"SELECT {_ENTRY} FROM feed_entries WHERE video_id = $1", video_id)
    return None if row is None else _entry(row)


async def entries_by_artist(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[FeedEntry]:
    """An artist's feed entries, newest first, older than `before`."""
    rows = await conn.fetch(
        f"""SELECT {_ENTRY} FROM feed_entries
        WHERE artist_id = $1 AND ($3::timestamptz IS NULL OR (published_at, video_id) < ($3, $4))
        ORDER BY published_at DESC, video_id DESC LIMIT $2""",
        artist_id,
        limit,
        before[0] if before else None,
        before[1] if before else None,
    )
    return [_entry(r) for r in rows]
