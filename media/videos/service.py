"""What may be done with a video, by whom: reads, visibility, edits, deletion, feed sync."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from media import follows
from media.feeds import index as feed_index
from media.videos import store
from media.videos.video import Video
from server import jobs
from server.accounts.service import find_account
from server.chat.hub import HUB, user_room
from server.errors import ApiError
from ticketing import subscriptions

log = logging.getLogger(__name__)
REMOVE_JOB = "media.remove_video_files"


def video_not_found() -> ApiError:
    """The one answer for a video that is missing, deleted or not the caller's to see."""
    return ApiError(404, "video_not_found", "video not found")


async def get(conn: asyncpg.Connection, video_id: uuid.UUID) -> Video | None:
    """A video that is not deleted, in any state."""
    return await store.get(conn, video_id)


async def _may_see(conn: asyncpg.Connection, video: Video, viewer_id: uuid.UUID | None) -> bool:
    if viewer_id is not None and viewer_id == video.artist_id:
        return True
    if viewer_id is not None:
        account = await find_account(conn, viewer_id)
        if account is not None and account.role == "admin":
            return True
    if video.state != "ready":
        return False
    if video.visibility == "public":
        return True
    if viewer_id is None or video.visibility == "private":
        return False
    if video.visibility == "followers":
        return await follows.is_following(conn, viewer_id, video.artist_id)
    return await subscriptions.is_subscriber(conn, viewer_id, video.artist_id)


async def viewable(
    conn: asyncpg.Connection, video_id: uuid.UUID, viewer_id: uuid.UUID | None
) -> Video:
    """The video if it is ready and the viewer may see it (the artist sees their own in any
    state, admins see all); otherwise a 404 that never tells whether it exists."""
    video = await store.get(conn, video_id)
    if video is None or not await _may_see(conn, video, viewer_id):
        raise video_not_found()
    return video


async def by_artist(
    conn: asyncpg.Connection,
    artist_id: uuid.UUID,
    viewer_id: uuid.UUID | None,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Video]:
    """An artist's videos the viewer may see, newest first, after the keyset `before`."""
    own = viewer_id is not None and viewer_id == artist_id
    if not own and viewer_id is not None:
        account = await find_account(conn, viewer_id)
        own = account is not None and account.role == "admin"
    if own:
        states: tuple[str, ...] = ("uploading", "processing", "ready", "failed")
        visibilities: tuple[str, ...] = ("public", "followers", "subscribers", "private")
    else:
        states, visibilities = ("ready",), ("public",)
        if viewer_id is not None:
            if await follows.is_following(conn, viewer_id, artist_id):
                visibilities += ("followers",)
            if await subscriptions.is_subscriber(conn, viewer_id, artist_id):
                visibilities += ("subscribers",)
    return await store.by_artist(conn, artist_id, states, visibilities, limit, before)


def feed_entry(video: Video) -> feed_index.FeedEntry:
    """A ready video as the feeds index it."""
    assert video.ready_at is not None
    return feed_index.FeedEntry(
        video_id=video.id,
        artist_id=video.artist_id,
        title=video.title,
        realm=video.realm,
        visibility=video.visibility,
        tags=video.tags,
        duration_s=video.duration_s,
        published_at=video.ready_at,
    )


async def owned(
    conn: asyncpg.Connection, video_id: uuid.UUID, user_id: uuid.UUID, is_admin: bool
) -> Video:
    """The video's row locked for a change by its artist (or an admin); 404 for anyone else."""
    video = await store.lock(conn, video_id)
    if video is None or (video.artist_id != user_id and not is_admin):
        raise video_not_found()
    return video


async def edit(
    app: web.Application,
    conn: asyncpg.Connection,
    video_id: uuid.UUID,
    user_id: uuid.UUID,
    is_admin: bool,
    changes: dict[str, Any],
) -> Video:
    """Change the metadata; a ready video's feed entry changes in the same transaction."""
    async with conn.transaction():
        video = await owned(conn, video_id, user_id, is_admin)
        if not changes:
            return video
        video = await store.edit(conn, video_id, changes)
        if video.state == "ready":
            await feed_index.index(conn, feed_entry(video))
    return video


async def delete(
    app: web.Application,
    conn: asyncpg.Connection,
    video_id: uuid.UUID,
    user_id: uuid.UUID,
    is_admin: bool,
) -> None:
    """Delete a video: gone from reads and feeds at once, its files removed by a job."""
    async with conn.transaction():
        await owned(conn, video_id, user_id, is_admin)
        upload_id = await store.mark_deleted(conn, video_id)
        await feed_index.unindex(conn, video_id)
        payload = {
            "video_id": str(video_id),
            "upload_id": None if upload_id is None else str(upload_id),
        }
        await jobs.enqueue(app, conn, REMOVE_JOB, payload)


def progress_json(video: Video) -> dict[str, Any]:
    """The `video_progress` event's payload."""
    return {
        "video_id": str(video.id),
        "state": video.state,
        "progress": video.progress,
        "failure": video.failure,
    }


async def announce(app: web.Application, video: Video) -> None:
    """Tell the uploader's sockets, on every process, where processing stands."""
    try:
        await app[HUB].sio.emit(
            "video_progress", progress_json(video), room=user_room(video.artist_id)
        )
    except Exception:  # the state is stored; a missed push is read back by polling
        log.exception("could not announce progress of video %s", video.id)
