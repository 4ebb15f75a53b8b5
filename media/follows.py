"""Follows: fans following artists, with a follower count kept beside them."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from media.analytics import rollup
from server.accounts import service as accounts
from server.errors import ApiError, bad_request

# Feeds filter by the followed artists in one query; a fan follows at most this many.
MAX_FOLLOWS = 5000


async def is_following(conn: asyncpg.Connection, fan_id: uuid.UUID, artist_id: uuid.UUID) -> bool:
    """Whether the fan follows the artist."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM follows WHERE fan_id = $1 AND artist_id = $2)",
            fan_id,
            artist_id,
        )
    )


async def followers(conn: asyncpg.Connection, artist_id: uuid.UUID) -> int:
    """How many fans follow the artist."""
    count = await conn.fetchval(
        "SELECT followers FROM follower_counts WHERE artist_id = $1", artist_id
    )
    return int(count or 0)


async def followed_artists(conn: asyncpg.Connection, fan_id: uuid.UUID) -> list[uuid.UUID]:
    """The artists the fan follows."""
    rows = await conn.fetch(
        "SELECT artist_id FROM follows WHERE fan_id = $1 LIMIT $2", fan_id, MAX_FOLLOWS
    )
    return [r["artist_id"] for r in rows]


async def ensure_artist(conn: asyncpg.Connection, artist_id: uuid.UUID) -> str:
    """The artist's display name, or 404 `artist_not_found`."""
    account = await accounts.find_account(conn, artist_id)
    if account is None or account.role != "artist":
        raise ApiError(404, "artist_not_found", "artist not found")
    return account.display_name


async def follow(
    conn: asyncpg.Connection, fan_id: uuid.UUID, artist_id: uuid.UUID, at: datetime
) -> bool:
    """Follow an artist (idempotent); True when this call created the follow."""
    if fan_id == artist_id:
        raise bad_request("you cannot follow yourself", "cannot_follow_self")
    async with conn.transaction():
        await ensure_artist(conn, artist_id)
        count = await conn.fetchval("SELECT count(*) FROM follows WHERE fan_id = $1", fan_id)
        if count >= MAX_FOLLOWS:
            raise ApiError(409, "too_many_follows", f"a fan follows at most {MAX_FOLLOWS} artists")
        created = await conn.fetchval(
            """INSERT INTO follows (fan_id, artist_id, created_at) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING RETURNING true""",
            fan_id,
            artist_id,
            at,
        )
        if created:
            await _count(conn, artist_id, 1)
            await rollup.follow(conn, artist_id, 1, at)
        return bool(created)


async def unfollow(
    conn: asyncpg.Connection, fan_id: uuid.UUID, artist_id: uuid.UUID, at: datetime
) -> bool:
    """Stop following (idempotent); True when this call removed a follow."""
    async with conn.transaction():
        await ensure_artist(conn, artist_id)
        removed = await conn.fetchval(
            "DELETE FROM follows WHERE fan_id = $1 AND artist_id = $2 RETURNING true",
            fan_id,
            artist_id,
        )
        if removed:
            await _count(conn, artist_id, -1)
            await rollup.follow(conn, artist_id, -1, at)
        return bool(removed)


async def _count(conn: asyncpg.Connection, artist_id: uuid.UUID, delta: int) -> None:
    await conn.execute(
        """INSERT INTO follower_counts (artist_id, followers) VALUES ($1, greatest($2, 0))
        ON CONFLICT (artist_id) DO UPDATE SET
            followers = greatest(follower_counts.followers + $2, 0)""",
        artist_id,
        delta,
    )
