"""Who follows whom."""

from __future__ import annotations

import uuid

import asyncpg


async def is_following(conn: asyncpg.Connection, fan_id: uuid.UUID, artist_id: uuid.UUID) -> bool:
    """Whether the fan follows the artist (nobody follows anyone yet)."""
    return False
