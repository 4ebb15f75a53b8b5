"""HTTP routes of engagement (the seed's view, watch time and like routes), follows and profiles."""

from __future__ import annotations

from aiohttp import web

from media import follows, profiles
from media.engagement import service
from media.engagement.models import FollowOut, LikeIn, LikeOut, Profile, ViewOut, WatchIn, WatchOut
from server import api, validate
from server.accounts.auth import optional_user, require_user
from server.accounts.tokens import Principal
from server.clientip import client_ip
from server.keys import CLOCK, DB

routes = web.RouteTableDef()
DEVICE_HEADER = "X-Device-Id"


def _viewer(request: web.Request, principal: Principal | None) -> str:
    return service.viewer_key(principal, request.headers.get(DEVICE_HEADER), client_ip(request))


@routes.post("/api/recommendation/video/{id}/view", name="video_view")
@api.spec({200: ViewOut}, body_required=False, public=True, tag="engagement")
async def view(request: web.Request) -> web.Response:
    """Count a view: once per viewer (account, else X-Device-Id, else address) per 30 minutes."""
    video_id = validate.path_uuid(request)
    principal = await optional_user(request)
    viewer = _viewer(request, principal)
    done = await service.view(request.app, video_id, principal, viewer)
    return api.reply(ViewOut(counted=done.counted, views=done.views))


@routes.post("/api/recommendation/video/{id}/watchtime", name="video_watchtime")
@api.spec({200: WatchOut}, body=WatchIn, public=True, tag="engagement")
async def watchtime(request: web.Request) -> web.Response:
    """Add seconds watched; the viewer's total for the video is capped at its duration."""
    video_id = validate.path_uuid(request)
    principal = await optional_user(request)
    viewer = _viewer(request, principal)
    seconds = (await api.body(request, WatchIn)).seconds_watched
    done = await service.watch(request.app, video_id, principal, viewer, seconds)
    return api.reply(
        WatchOut(watched_seconds=done.watched_seconds, credited_seconds=done.credited_seconds)
    )


@routes.post("/api/recommendation/video/{id}/like", name="video_like")
@api.spec({200: LikeOut}, body=LikeIn, tag="engagement")
async def like(request: web.Request) -> web.Response:
    """Like or unlike a video; idempotent."""
    principal = await require_user(request)
    video_id = validate.path_uuid(request)
    liked = (await api.body(request, LikeIn)).liked
    done = await service.like(request.app, video_id, principal, liked)
    return api.reply(LikeOut(liked=done.liked, likes=done.likes))


async def _follow(request: web.Request, on: bool) -> web.Response:
    principal = await require_user(request)
    artist_id = validate.path_uuid(request)
    now = request.app[CLOCK].now()
    async with request.app[DB].acquire() as conn:
        if on:
            await follows.follow(conn, principal.user_id, artist_id, now)
        else:
            await follows.unfollow(conn, principal.user_id, artist_id, now)
        count = await follows.followers(conn, artist_id)
    return api.reply(FollowOut(following=on, followers=count))


@routes.post("/api/artists/{id}/follow", name="artist_follow")
@api.spec({200: FollowOut}, tag="follows")
async def follow(request: web.Request) -> web.Response:
    """Follow an artist; idempotent."""
    return await _follow(request, True)


@routes.delete("/api/artists/{id}/follow", name="artist_unfollow")
@api.spec({200: FollowOut}, tag="follows")
async def unfollow(request: web.Request) -> web.Response:
    """Stop following an artist; idempotent."""
    return await _follow(request, False)


@routes.get("/api/artists/{id}", name="artist_profile")
@api.spec({200: Profile}, public=True, tag="follows")
async def profile(request: web.Request) -> web.Response:
    """An artist's profile: followers, whether the caller follows, videos, upcoming events."""
    artist_id = validate.path_uuid(request)
    principal = await optional_user(request)
    viewer = principal.user_id if principal else None
    return api.reply(await profiles.profile(request.app, artist_id, viewer), Profile)
