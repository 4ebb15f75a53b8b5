"""Money figures per time bucket for an artist's analytics.

Stand-in until tips and ticket sales are reported per bucket: no money yet.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg


@dataclass(frozen=True)
class MoneyBucket:
    """Count and amount (minor units) of one currency in one bucket starting at `start`."""

    start: datetime
    count: int
    amount: int
    currency: str


async def tips_by_bucket(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    start: datetime,
    end: datetime,
    bucket: Literal["day", "week"],
) -> list[MoneyBucket]:
    """Tips received by the artist per bucket in [start, end)."""
    return []


async def sales_by_bucket(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    start: datetime,
    end: datetime,
    bucket: Literal["day", "week"],
) -> list[MoneyBucket]:
    """Ticket sales of the artist's events per bucket in [start, end)."""
    return []
