"""Views, watch time and likes: deduplicated, counted exactly under concurrency, and fed into
the trending heat and the analytics rollups in the same transaction.

The view rule: a viewer's view of a video counts at most once per window (30 minutes by
default). The viewer is the account when signed in; otherwise the `X-Device-Id` the app
sends; an anonymous request without a device id is counted per client address.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiohttp import web

from media import videos
from media.analytics import rollup
from media.engagement.config import ENGAGE_CONFIG
from media.feeds import heat
from media.feeds import index as feed_index
from server.accounts.tokens import Principal
from server.errors import bad_request
from server.keys import CLOCK, DB

_DEVICE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


@dataclass(frozen=True)
class VideoCounts:
    """A video's public counters."""

    views: int
    likes: int
    watch_seconds: float


@dataclass(frozen=True)
class ViewResult:
    """Whether this view counted, and the video's views after it."""

    counted: bool
    views: int


@dataclass(frozen=True)
class WatchResult:
    """The viewer's watched seconds of the video after the report, and how many it added."""

    watched_seconds: float
    credited_seconds: float


@dataclass(frozen=True)
class LikeResult:
    """The caller's like and the video's likes after it."""

    liked: bool
    likes: int


def viewer_key(principal: Principal | None, device_id: str | None, address: str) -> str:
    """Who a view belongs to: the account, else the device, else the client address."""
    if principal is not None:
        return f"u:{principal.user_id}"
    if device_id is not None:
        if not _DEVICE_ID.match(device_id):
            raise bad_request(
                "X-Device-Id must be 8-128 characters of letters, digits and ._:-",
                "invalid_device_id",
            )
        return f"d:{device_id}"
    return f"ip:{address}"


async def counts(conn: asyncpg.Connection, video_id: uuid.UUID) -> VideoCounts:
    """A video's views, likes and watched seconds (zeros when never engaged with)."""
    row = await conn.fetchrow(
        "SELECT views, likes, watch_seconds FROM video_stats WHERE video_id = $1", video_id
    )
    if row is None:
        return VideoCounts(0, 0, 0.0)
    return VideoCounts(row["views"], row["likes"], row["watch_seconds"])


async def counts_many(
    conn: asyncpg.Connection, video_ids: list[uuid.UUID]
) -> dict[uuid.UUID, VideoCounts]:
    """Counters of several videos at once (zeros for those never engaged with)."""
    rows = await conn.fetch(
        "SELECT video_id, views, likes, watch_seconds FROM video_stats WHERE video_id = ANY($1)",
        video_ids,
    )
    found = {r["video_id"]: VideoCounts(r["views"], r["likes"], r["watch_seconds"]) for r in rows}
    return {v: found.get(v, VideoCounts(0, 0, 0.0)) for v in video_ids}


async def _bump(
    conn: asyncpg.Connection, video_id: uuid.UUID, views: int, likes: int, watch: float
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO video_stats (video_id, views, likes, watch_seconds)
        VALUES ($1, greatest($2, 0), greatest($3, 0), $4)
        ON CONFLICT (video_id) DO UPDATE SET
            views = video_stats.views + $2,
            likes = greatest(video_stats.likes + $3, 0),
            watch_seconds = video_stats.watch_seconds + $4
        RETURNING views, likes""",
        video_id,
        views,
        likes,
        watch,
    )


async def view(
    app: web.Application, video_id: uuid.UUID, principal: Principal | None, viewer: str
) -> ViewResult:
    """Record a view; it counts unless this viewer's last counted view is inside the window."""
    now = app[CLOCK].now()
    window = timedelta(seconds=app[ENGAGE_CONFIG].view_window_s)
    async with app[DB].acquire() as conn:
        video = await videos.viewable(conn, video_id, principal.user_id if principal else None)
        async with conn.transaction():
            # Concurrent first views of one viewer meet on the primary key: the second waits
            # for the first to commit, then finds its fresh counted_at and counts nothing.
            counted = await conn.fetchval(
                """INSERT INTO video_viewers (video_id, viewer, counted_at) VALUES ($1, $2, $3)
                ON CONFLICT (video_id, viewer) DO UPDATE SET counted_at = EXCLUDED.counted_at
                WHERE video_viewers.counted_at IS NULL OR video_viewers.counted_at <= $4
                RETURNING true""",
                video_id,
                viewer,
                now,
                now - window,
            )
            if not counted:
                return ViewResult(False, (await counts(conn, video_id)).views)
            row = await _bump(conn, video_id, 1, 0, 0.0)
            await feed_index.add_heat(conn, video_id, heat.VIEW, now)
            await rollup.view(conn, video.artist_id, video_id, viewer, now)
            if principal is not None:
                await feed_index.mark_seen(conn, principal.user_id, video_id, now)
            return ViewResult(True, row["views"])


async def watch(
    app: web.Application,
    video_id: uuid.UUID,
    principal: Principal | None,
    viewer: str,
    seconds: float,
) -> WatchResult:
    """Add watched seconds; a viewer's total for a video never exceeds the video's duration."""
    limit = app[ENGAGE_CONFIG].max_watch_report_s
    if not math.isfinite(seconds) or seconds < 0 or seconds > limit:
        raise bad_request(f"secondsWatched must be between 0 and {limit}", "invalid_watch_time")
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        video = await videos.viewable(conn, video_id, principal.user_id if principal else None)
        cap = video.duration_s if video.duration_s is not None else float(limit)
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO video_viewers (video_id, viewer) VALUES ($1, $2)
                ON CONFLICT DO NOTHING""",
                video_id,
                viewer,
            )
            before = await conn.fetchval(
                "SELECT watched_s FROM video_viewers WHERE video_id = $1 AND viewer = $2 FOR UPDATE",
                video_id,
                viewer,
            )
            after = min(cap, before + seconds)
            credited = max(0.0, after - before)
            if credited > 0:
                await conn.execute(
                    "UPDATE video_viewers SET watched_s = $3 WHERE video_id = $1 AND viewer = $2",
                    video_id,
                    viewer,
                    after,
                )
                await _bump(conn, video_id, 0, 0, credited)
                await feed_index.add_heat(conn, video_id, credited * heat.WATCH_PER_SECOND, now)
                await rollup.watch(conn, video.artist_id, video_id, credited, now)
            return WatchResult(max(before, after), credited)


async def like(
    app: web.Application, video_id: uuid.UUID, principal: Principal, liked: bool
) -> LikeResult:
    """Set the caller's like; repeating the same value changes nothing."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        video = await videos.viewable(conn, video_id, principal.user_id)
        async with conn.transaction():
            if liked:
                changed = await conn.fetchval(
                    """INSERT INTO video_likes (video_id, account_id, created_at)
                    VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true""",
                    video_id,
                    principal.user_id,
                    now,
                )
            else:
                changed = await conn.fetchval(
                    """DELETE FROM video_likes WHERE video_id = $1 AND account_id = $2
                    RETURNING true""",
                    video_id,
                    principal.user_id,
                )
            if not changed:
                return LikeResult(liked, (await counts(conn, video_id)).likes)
            delta = 1 if liked else -1
            row = await _bump(conn, video_id, 0, delta, 0.0)
            if liked:
                await feed_index.add_heat(conn, video_id, heat.LIKE, now)
            await rollup.like(conn, video.artist_id, video_id, delta, now)
            return LikeResult(liked, row["likes"])


async def has_liked(conn: asyncpg.Connection, video_id: uuid.UUID, account_id: uuid.UUID) -> bool:
    """Whether the account likes the video."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM video_likes WHERE video_id = $1 AND account_id = $2)",
            video_id,
            account_id,
        )
    )
