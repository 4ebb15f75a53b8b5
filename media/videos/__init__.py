"""Videos: the typed video other packages receive, and who may see it.

Stand-in until the video pipeline lands: the same signatures, backed by an in-memory
registry (`register`), so feeds and engagement can be built and tested against it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from server.accounts import service as accounts
from server.errors import ApiError

Realm = Literal["inferno", "purgatorio", "paradiso"]
Visibility = Literal["public", "followers", "subscribers", "private"]
VideoState = Literal["uploading", "processing", "ready", "failed"]


@dataclass(frozen=True)
class Video:
    """A video as its owner package describes it."""

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


_VIDEOS: dict[uuid.UUID, Video] = {}


def register(video: Video) -> None:
    """Add or replace a video in the stand-in registry."""
    _VIDEOS[video.id] = video


async def get(conn: asyncpg.Connection, video_id: uuid.UUID) -> Video | None:
    """A video that is not deleted, or None."""
    return _VIDEOS.get(video_id)


async def viewable(
    conn: asyncpg.Connection, video_id: uuid.UUID, viewer_id: uuid.UUID | None
) -> Video:
    """A ready video the viewer may see, else 404 `video_not_found` (existence never leaks)."""
    from media import follows

    video = _VIDEOS.get(video_id)
    if video is not None and viewer_id is not None:
        if video.artist_id == viewer_id:
            return video
        account = await accounts.find_account(conn, viewer_id)
        if account is not None and account.role == "admin":
            return video
    if video is not None and video.state == "ready":
        if video.visibility == "public":
            return video
        if (
            video.visibility == "followers"
            and viewer_id is not None
            and await follows.is_following(conn, viewer_id, video.artist_id)
        ):
            return video
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
    found = []
    for video in sorted(_VIDEOS.values(), key=lambda v: (v.created_at, v.id), reverse=True):
        if video.artist_id != artist_id:
            continue
        if before is not None and (video.created_at, video.id) >= before:
            continue
        try:
            found.append(await viewable(conn, video.id, viewer_id))
        except ApiError:
            continue
        if len(found) >= limit:
            break
    return found
