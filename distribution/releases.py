"""Releases, as far as delivery needs them: who owns one."""

from __future__ import annotations

import uuid

import asyncpg


async def owner(conn: asyncpg.Connection, release_id: uuid.UUID) -> uuid.UUID | None:
    """The artist who uploaded a release, or None when there is no such release."""
    try:
        found: uuid.UUID | None = await conn.fetchval(
            "SELECT artist_id FROM distribution_releases WHERE id = $1", release_id
        )
    except asyncpg.UndefinedTableError:  # the release tables are not installed: no release
        return None
    return found
