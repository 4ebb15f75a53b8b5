"""Videos on demand: the typed video and the visibility rules other packages ask.

Stand-in until the video pipeline lands: no video exists yet, so every lookup finds none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from server.errors import ApiError

Realm = Literal["inferno", "purgatorio", "paradiso"]
Visibility = Literal["public", "followers", "subscribers", "private"]
VideoState = Literal["uploading", "processing", "ready", "failed"]


@dataclass(frozen=True)
class Video:
    """A video as its owner's table holds it."""

    id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    description: str
    tags: tuple[str, ...]
    realm: Realm
    visibility: Visibility
    state: VideoState
    progress: int
    failure: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    created_at: datetime
    ready_at: datetime | None


async def get(conn: asyncpg.Connection, video_id: uuid.UUID) -> Video | None:
    """A video that is not deleted."""
    return None


async def viewable(
    conn: asyncpg.Connection, video_id: uuid.UUID, viewer_id: uuid.UUID | None
) -> Video:
    """A ready video the viewer may see, else ApiError 404 (never leaking existence)."""
    raise ApiError(404, "video_not_found", "video not found")


async def by_artist(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    viewer_id: uuid.UUID | None,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Video]:
    """An artist's videos the viewer may see, newest first."""
    return []
