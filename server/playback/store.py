"""SQL for the playback_sessions table; nothing else touches it."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def insert(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    event_id: uuid.UUID,
    kind: str = "live",
) -> None:
    """Record a new viewing session (`kind`: live or replay)."""
    await conn.execute(
        "INSERT INTO playback_sessions (id, user_id, event_id, kind) VALUES ($1, $2, $3, $4)",
        session_id,
        user_id,
        event_id,
        kind,
    )


async def get(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    """A session."""
    return await conn.fetchrow(
        "SELECT id, user_id, event_id, kind, revoked_at FROM playback_sessions WHERE id = $1",
        session_id,
    )


async def revoke(
    conn: asyncpg.Connection, session_ids: list[uuid.UUID], now: datetime
) -> list[uuid.UUID]:
    """Revoke sessions; returns those that were still active."""
    rows = await conn.fetch(
        """UPDATE playback_sessions SET revoked_at = $2
           WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL RETURNING id""",
        session_ids,
        now,
    )
    return [r["id"] for r in rows]


async def active_for(
    conn: asyncpg.Connection, user_id: uuid.UUID, event_id: uuid.UUID
) -> list[uuid.UUID]:
    """A viewer's unrevoked sessions for an event."""
    rows = await conn.fetch(
        """SELECT id FROM playback_sessions
           WHERE user_id = $1 AND event_id = $2 AND revoked_at IS NULL""",
        user_id,
        event_id,
    )
    return [r["id"] for r in rows]


async def revoked_since(conn: asyncpg.Connection, since: datetime) -> list[uuid.UUID]:
    """Sessions revoked at or after `since` (older ones have no live token left)."""
    rows = await conn.fetch(
        "SELECT id FROM playback_sessions WHERE revoked_at IS NOT NULL AND revoked_at >= $1", since
    )
    return [r["id"] for r in rows]
