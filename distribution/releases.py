"""Releases as delivery needs them (the release pipeline owns this module and its table)."""

from __future__ import annotations

import uuid

import asyncpg


async def owner(conn: asyncpg.Connection, release_id: uuid.UUID) -> uuid.UUID | None:
    """The artist who uploaded a release, or None when there is no such release."""
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT artist_id FROM distribution_releases WHERE id = $1", release_id
    )
    return found
