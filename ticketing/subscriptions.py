"""Fans' monthly subscriptions to artists."""

from __future__ import annotations

import uuid

import asyncpg


async def is_subscriber(conn: asyncpg.Connection, fan_id: uuid.UUID, artist_id: uuid.UUID) -> bool:
    """Whether the fan has subscriber access to the artist now (no subscriptions yet)."""
    return False
