"""Video comments: a Socket.IO room per video on the chat's server (its connection auth, event
budget and payload rules), a per-user rate limit from `server.ratelimit`, moderation by the
video's artist and platform moderators, and the REST listing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from media import videos
from media.comments import store
from media.comments.payloads import CommentRef, MuteRef, PostComment, VideoRef
from media.engagement.config import ENGAGE_CONFIG
from media.feeds import cursor
from server import audit
from server.accounts.tokens import Principal
from server.chat import handlers
from server.chat.connections import ensure_fresh
from server.chat.hub import HUB, Connection
from server.errors import ApiError, bad_request, conflict, forbidden
from server.keys import CLOCK, DB, REDIS
from server.ratelimit import RateLimit, RateLimiter
from server.wire import timestamp

MAX_VIDEO_ROOMS = 5


def room_of(video_id: uuid.UUID) -> str:
    """The Socket.IO room of a video's comments."""
    return f"vid:{video_id}"


def comment_json(row: Any, replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A comment as the API and the room show it."""
    return {
        "id": str(row["id"]),
        "video_id": str(row["video_id"]),
        "parent_id": None if row["parent_id"] is None else str(row["parent_id"]),
        "author": {"id": str(row["author_id"]), "display_name": row["display_name"]},
        "body": row["body"],
        "created_at": timestamp(row["created_at"]),
        "replies": replies or [],
    }


def can_moderate(principal: Principal, video: videos.Video) -> bool:
    """The video's artist and platform moderators and admins."""
    return video.artist_id == principal.user_id or principal.is_staff


def _rooms(app: web.Application, sid: str) -> list[str]:
    return [r for r in app[HUB].sio.rooms(sid) if r.startswith("vid:")]


def _joined(app: web.Application, conn: Connection, video_id: uuid.UUID) -> None:
    if room_of(video_id) not in _rooms(app, conn.sid):
        raise conflict("join the video's comments first", "not_joined")


async def join_video(app: web.Application, conn: Connection, payload: VideoRef) -> dict[str, Any]:
    """Enter a video's comment room; returns the newest comments and the caller's standing."""
    await ensure_fresh(app, conn)
    room = room_of(payload.video_id)
    rooms = _rooms(app, conn.sid)
    if room not in rooms and len(rooms) >= MAX_VIDEO_ROOMS:
        raise conflict(f"a connection joins at most {MAX_VIDEO_ROOMS} videos", "too_many_rooms")
    async with app[DB].acquire() as db:
        video = await videos.viewable(db, payload.video_id, conn.principal.user_id)
        muted = await store.is_muted(db, video.artist_id, conn.principal.user_id)
    await app[HUB].sio.enter_room(conn.sid, room)
    page = await listing(app, payload.video_id, conn.principal.user_id, None, 20)
    return {
        "video_id": str(payload.video_id),
        "comments": page[0],
        "next": page[1],
        "moderator": can_moderate(conn.principal, video),
        "muted": muted,
    }


async def leave_video(app: web.Application, conn: Connection, payload: VideoRef) -> dict[str, Any]:
    """Leave a video's comment room (a no-op when not in it)."""
    await app[HUB].sio.leave_room(conn.sid, room_of(payload.video_id))
    return {}


async def comment(app: web.Application, conn: Connection, payload: PostComment) -> dict[str, Any]:
    """Post a comment or a reply to a joined video; broadcast as `video_comment`."""
    await ensure_fresh(app, conn)
    _joined(app, conn, payload.video_id)
    cfg = app[ENGAGE_CONFIG]
    user_id = conn.principal.user_id
    limit = RateLimit("video_comment", cfg.comment_burst, cfg.comment_per_minute / 60)
    allowed, wait_ms = await RateLimiter(app[REDIS]).take(
        [(limit, str(user_id))], app[CLOCK].time()
    )
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            "too many comments: wait before sending again",
            retry_after_ms=wait_ms,
        )
    now = app[CLOCK].now()
    comment_id = uuid.uuid4()
    async with app[DB].acquire() as db:
        video = await videos.viewable(db, payload.video_id, user_id)
        if await store.is_muted(db, video.artist_id, user_id):
            raise forbidden("you are muted on this artist's videos", "muted")
        parent = await _parent(db, payload.video_id, payload.parent_id)
        await store.insert(db, comment_id, payload.video_id, user_id, parent, payload.body, now)
    message = comment_json(
        {
            "id": comment_id,
            "video_id": payload.video_id,
            "parent_id": parent,
            "author_id": user_id,
            "display_name": conn.name,
            "body": payload.body,
            "created_at": now,
        }
    )
    await app[HUB].sio.emit("video_comment", message, room=room_of(payload.video_id))
    return {"comment": message}


async def _parent(
    db: asyncpg.Connection, video_id: uuid.UUID, parent_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The thread a reply joins: replies are one level deep, so a reply to a reply joins its root."""
    if parent_id is None:
        return None
    row = await store.live_comment(db, video_id, parent_id)
    if row is None:
        raise ApiError(404, "comment_not_found", "the comment replied to does not exist")
    return row["parent_id"] or row["id"]  # type: ignore[no-any-return]


async def delete_comment(
    app: web.Application, conn: Connection, payload: CommentRef
) -> dict[str, Any]:
    """Delete a comment: its author, the video's artist, moderators and admins may."""
    await ensure_fresh(app, conn)
    principal = conn.principal
    now = app[CLOCK].now()
    async with app[DB].acquire() as db:
        video = await videos.viewable(db, payload.video_id, principal.user_id)
        row = await store.live_comment(db, payload.video_id, payload.comment_id)
        if row is None:
            raise ApiError(404, "comment_not_found", "comment not found")
        if row["author_id"] != principal.user_id and not can_moderate(principal, video):
            raise forbidden("only the author, the artist and moderators delete", "not_moderator")
        async with db.transaction():
            if not await store.delete(
                db, payload.video_id, payload.comment_id, principal.user_id, now
            ):
                raise ApiError(404, "comment_not_found", "comment not found")
            await audit.record(
                app,
                db,
                "VIDEO_COMMENT_DELETED",
                actor=principal.user_id,
                subject=payload.comment_id,
                video_id=str(payload.video_id),
                author_id=str(row["author_id"]),
            )
    notice = {"video_id": str(payload.video_id), "comment_id": str(payload.comment_id)}
    await app[HUB].sio.emit("video_comment_deleted", notice, room=room_of(payload.video_id))
    return notice


async def _moderate(
    app: web.Application, conn: Connection, payload: MuteRef, on: bool
) -> dict[str, Any]:
    await ensure_fresh(app, conn)
    principal = conn.principal
    if payload.user_id == principal.user_id:
        raise forbidden("you cannot mute yourself", "cannot_sanction")
    async with app[DB].acquire() as db:
        video = await videos.viewable(db, payload.video_id, principal.user_id)
        if not can_moderate(principal, video):
            raise forbidden("only the artist and moderators mute", "not_moderator")
        if payload.user_id == video.artist_id:
            raise forbidden("the artist cannot be muted on their own videos", "cannot_sanction")
        async with db.transaction():
            if on:
                await store.mute(
                    db, video.artist_id, payload.user_id, principal.user_id, app[CLOCK].now()
                )
            else:
                await store.unmute(db, video.artist_id, payload.user_id)
            await audit.record(
                app,
                db,
                "VIDEO_COMMENTER_MUTED" if on else "VIDEO_COMMENTER_UNMUTED",
                actor=principal.user_id,
                subject=payload.user_id,
                artist_id=str(video.artist_id),
            )
    return {"user_id": str(payload.user_id), "muted": on}


async def mute(app: web.Application, conn: Connection, payload: MuteRef) -> dict[str, Any]:
    """Mute a user on all of the video's artist's videos."""
    return await _moderate(app, conn, payload, True)


async def unmute(app: web.Application, conn: Connection, payload: MuteRef) -> dict[str, Any]:
    """Lift a mute."""
    return await _moderate(app, conn, payload, False)


async def listing(
    app: web.Application,
    video_id: uuid.UUID,
    viewer: uuid.UUID | None,
    after: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Top-level comments newest first, each with its first replies; and the next cursor."""
    key = app[ENGAGE_CONFIG].cursor_key
    feed = f"comments:{video_id}"
    before = None
    if after is not None:
        at = cursor.decode(key, after, feed, None)
        try:
            before = (
                _time(at.get("t")),
                uuid.UUID(str(at.get("i"))),
            )
        except (TypeError, ValueError):
            raise bad_request("cursor is invalid", "invalid_cursor") from None
    async with app[DB].acquire() as db:
        await videos.viewable(db, video_id, viewer)
        rows = await store.page(db, video_id, before, limit)
        replies = await store.replies(db, [r["id"] for r in rows])
    threads: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for reply in replies:
        threads.setdefault(reply["parent_id"], []).append(comment_json(reply))
    items = [comment_json(r, threads.get(r["id"])) for r in rows]
    nxt = None
    if len(rows) == limit:
        tail = rows[-1]
        nxt = cursor.encode(
            key, {"f": feed, "u": None, "t": tail["created_at"].isoformat(), "i": str(tail["id"])}
        )
    return items, nxt


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("not an aware time")
    return moment


def setup(app: web.Application) -> None:
    """Serve the comment events on the chat's Socket.IO server."""
    handlers.add_operation(app, "join_video", VideoRef, join_video)
    handlers.add_operation(app, "leave_video", VideoRef, leave_video)
    handlers.add_operation(app, "comment", PostComment, comment)
    handlers.add_operation(app, "delete_comment", CommentRef, delete_comment)
    handlers.add_operation(app, "mute_commenter", MuteRef, mute)
    handlers.add_operation(app, "unmute_commenter", MuteRef, unmute)
