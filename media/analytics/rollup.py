"""Analytics rollups, maintained on write: per-artist day and week buckets, per-video days.

Engagement and follows call these inside their own transactions, so a counted view and its
rollup commit together. Unique viewers are exact: each bucket keeps the set of viewer keys
it has counted, and only a first appearance raises `unique_viewers`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import asyncpg


def day_of(at: datetime) -> date:
    """The UTC day of `at`."""
    return at.date()


def week_of(at: datetime) -> date:
    """The Monday starting the ISO week of `at`."""
    day = at.date()
    return day - timedelta(days=day.weekday())


async def view(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    video_id: uuid.UUID,
    viewer: str,
    at: datetime,
) -> None:
    """Count one view by `viewer`."""
    await conn.execute(
        """WITH fresh AS (
            INSERT INTO analytics_artist_viewers (artist_id, bucket, start, viewer)
            VALUES ($1, 'day', $2, $4), ($1, 'week', $3, $4)
            ON CONFLICT DO NOTHING RETURNING bucket)
        INSERT INTO analytics_artist_buckets (artist_id, bucket, start, views, unique_viewers)
        SELECT $1, b.bucket, b.start, 1, (SELECT count(*) FROM fresh f WHERE f.bucket = b.bucket)
        FROM (VALUES ('day', $2::date), ('week', $3::date)) AS b (bucket, start)
        ON CONFLICT (artist_id, bucket, start) DO UPDATE SET
            views = analytics_artist_buckets.views + 1,
            unique_viewers = analytics_artist_buckets.unique_viewers + EXCLUDED.unique_viewers""",
        artist_id,
        day_of(at),
        week_of(at),
        viewer,
    )
    await _video_day(conn, video_id, artist_id, at, views=1)


async def watch(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    video_id: uuid.UUID,
    seconds: float,
    at: datetime,
) -> None:
    """Add watched seconds."""
    await _artist(conn, artist_id, at, "watch_seconds", seconds)
    await _video_day(conn, video_id, artist_id, at, watch=seconds)


async def like(
    conn: asyncpg.Connection, artist_id: uuid.UUID, video_id: uuid.UUID, delta: int, at: datetime
) -> None:
    """A like given (+1) or taken back (-1): buckets count the net change."""
    await _artist(conn, artist_id, at, "likes", delta)
    await _video_day(conn, video_id, artist_id, at, likes=delta)


async def follow(conn: asyncpg.Connection, artist_id: uuid.UUID, delta: int, at: datetime) -> None:
    """A follow (+1) or unfollow (-1): buckets count the net change."""
    await _artist(conn, artist_id, at, "new_followers", delta)


_COLUMNS = frozenset({"watch_seconds", "likes", "new_followers"})


async def _artist(
    conn: asyncpg.Connection, artist_id: uuid.UUID, at: datetime, column: str, amount: float
) -> None:
    assert column in _COLUMNS
    await conn.execute(
        f"""INSERT INTO analytics_artist_buckets (artist_id, bucket, start, {column})
        VALUES ($1, 'day', $2, $4), ($1, 'week', $3, $4)
        ON CONFLICT (artist_id, bucket, start) DO UPDATE SET
            {column} = analytics_artist_buckets.{column} + EXCLUDED.{column}""",
        artist_id,
        day_of(at),
        week_of(at),
        amount,
    )


async def _video_day(
    conn: asyncpg.Connection,
    video_id: uuid.UUID,
    artist_id: uuid.UUID,
    at: datetime,
    *,
    views: int = 0,
    watch: float = 0.0,
    likes: int = 0,
) -> None:
    await conn.execute(
        """INSERT INTO analytics_video_days (video_id, day, artist_id, views, watch_seconds, likes)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (video_id, day) DO UPDATE SET
            views = analytics_video_days.views + EXCLUDED.views,
            watch_seconds = analytics_video_days.watch_seconds + EXCLUDED.watch_seconds,
            likes = analytics_video_days.likes + EXCLUDED.likes""",
        video_id,
        day_of(at),
        artist_id,
        views,
        watch,
        likes,
    )
