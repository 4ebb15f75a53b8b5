"""Money per period for an artist's analytics: tips and subscription invoices, ticket sales."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from ticketing import store, subscriptions, tips

Bucket = Literal["day", "week"]


@dataclass(frozen=True)
class MoneyBucket:
    """What came in during one bucket (starting at `start`, UTC) in one currency."""

    start: datetime
    count: int
    amount: int
    currency: str


def _buckets(rows: list[Any]) -> list[MoneyBucket]:
    merged: dict[tuple[datetime, str], tuple[int, int]] = {}
    for r in rows:
        key = (r["start"], r["currency"].strip())
        count, amount = merged.get(key, (0, 0))
        merged[key] = (count + int(r["count"]), amount + int(r["amount"]))
    return [MoneyBucket(s, c, a, cur) for (s, cur), (c, a) in sorted(merged.items())]


def _check(start: datetime, end: datetime, bucket: str) -> None:
    if bucket not in ("day", "week"):
        raise ValueError("bucket must be 'day' or 'week'")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must carry a time zone")


async def tips_by_bucket(
    conn: asyncpg.Connection, artist_id: uuid.UUID, start: datetime, end: datetime, bucket: Bucket
) -> list[MoneyBucket]:
    """Paid tips and subscription invoices of an artist in [start, end), per bucket and
    currency (refunded tips left out); buckets with nothing are absent."""
    _check(start, end, bucket)
    rows = [
        *await tips.sums_by_bucket(conn, artist_id, start, end, bucket),
        *await subscriptions.sums_by_bucket(conn, artist_id, start, end, bucket),
    ]
    return _buckets(rows)


async def sales_by_bucket(
    conn: asyncpg.Connection, artist_id: uuid.UUID, start: datetime, end: datetime, bucket: Bucket
) -> list[MoneyBucket]:
    """Ticket sales of an artist's events in [start, end), per bucket and currency (refunded
    sales left out); buckets with nothing are absent."""
    _check(start, end, bucket)
    return _buckets(await store.sales_by_bucket(conn, artist_id, start, end, bucket))
