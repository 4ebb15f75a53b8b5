"""An artist's analytics, read from the rollups (never from view rows) and money's reports."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import asyncpg

from media import videos
from media.analytics.rollup import week_of
from server.errors import bad_request
from server.wire import timestamp
from ticketing import reports

MAX_DAYS = 366
TOP_VIDEOS = 10


def parse_range(start: str, end: str) -> tuple[date, date]:
    """The inclusive UTC date range, or a 400 naming what is wrong."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise bad_request("from and to must be dates (YYYY-MM-DD)", "invalid_field") from None
    if first > last:
        raise bad_request("from must not be after to", "invalid_range")
    if (last - first).days >= MAX_DAYS:
        raise bad_request(f"a range spans at most {MAX_DAYS} days", "invalid_range")
    return first, last


def _starts(first: date, last: date, bucket: str) -> list[date]:
    step = 1 if bucket == "day" else 7
    day = first if bucket == "day" else week_of(datetime.combine(first, time(), UTC))
    out = []
    while day <= last:
        out.append(day)
        day += timedelta(days=step)
    return out


def _money(found: list[reports.MoneyBucket]) -> dict[date, dict[str, Any]]:
    by_start: dict[date, dict[str, Any]] = {}
    for item in found:
        start = item.start.astimezone(UTC).date() if item.start.tzinfo else item.start.date()
        slot = by_start.setdefault(start, {"count": 0, "amount": 0, "currency": item.currency})
        # Buckets show one currency: an artist sells in one; any other is left to the reports.
        if slot["currency"] == item.currency:
            slot["count"] += item.count
            slot["amount"] += item.amount
    return by_start


async def analytics(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    first: date,
    last: date,
    bucket: Literal["day", "week"],
) -> dict[str, Any]:
    """Figures per bucket over [first, last] and the top videos of the range."""
    starts = _starts(first, last, bucket)
    rows = await conn.fetch(
        """SELECT start, views, unique_viewers, watch_seconds, likes, new_followers
        FROM analytics_artist_buckets
        WHERE artist_id = $1 AND bucket = $2 AND start BETWEEN $3 AND $4""",
        artist_id,
        bucket,
        starts[0],
        starts[-1],
    )
    found = {r["start"]: r for r in rows}
    begin = datetime.combine(starts[0], time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    tips = _money(await reports.tips_by_bucket(conn, artist_id, begin, end, bucket))
    sales = _money(await reports.sales_by_bucket(conn, artist_id, begin, end, bucket))
    empty = {"count": 0, "amount": 0, "currency": None}
    buckets = []
    for start in starts:
        row = found.get(start)
        buckets.append(
            {
                "start": timestamp(datetime.combine(start, time(), UTC)),
                "views": row["views"] if row else 0,
                "unique_viewers": row["unique_viewers"] if row else 0,
                "watch_seconds": row["watch_seconds"] if row else 0.0,
                "likes": row["likes"] if row else 0,
                "new_followers": row["new_followers"] if row else 0,
                "tips": tips.get(start, empty),
                "sales": sales.get(start, empty),
            }
        )
    top = await conn.fetch(
        """SELECT video_id, sum(views) AS views, sum(watch_seconds) AS watch_seconds,
                  sum(likes) AS likes
        FROM analytics_video_days WHERE artist_id = $1 AND day BETWEEN $2 AND $3
        GROUP BY video_id ORDER BY sum(views) DESC, sum(watch_seconds) DESC, video_id
        LIMIT $4""",
        artist_id,
        first,
        last,
        TOP_VIDEOS,
    )
    top_videos = []
    for row in top:
        video = await videos.get(conn, row["video_id"])
        top_videos.append(
            {
                "video_id": str(row["video_id"]),
                "title": video.title if video else None,
                "views": int(row["views"]),
                "watch_seconds": float(row["watch_seconds"]),
                "likes": int(row["likes"]),
            }
        )
    return {"buckets": buckets, "top_videos": top_videos}
