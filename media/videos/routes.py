"""HTTP routes of videos: the tus upload endpoints, metadata, playback grants and listings."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web

# engagement imports media.videos too: only its attributes at call time are used here.
from media.engagement import service as engagement
from media.videos import cursor, service, tus
from media.videos.models import (
    PageQuery,
    UploadCreated,
    VideoEdit,
    VideoOut,
    VideoPage,
    VodGrant,
)
from media.videos.processing import VIDEO_CONFIG, published
from media.videos.transcode import MASTER, POSTER
from media.videos.wire import video_json
from server import api, validate
from server.accounts.auth import optional_user, require_user
from server.keys import CLOCK, CONFIG, DB
from server.playback import tokens
from server.playback.service import playback_url

routes = web.RouteTableDef()

# Any value is well-formed; one this server does not speak is refused with tus's 412.
_TUS = {"Tus-Resumable": {"type": "string", "description": f"the protocol version, {tus.VERSION}"}}
_LENGTH = {"type": "string", "pattern": "^[0-9]{1,19}$"}
_UPLOAD_PATH = {"upload_id": api.UUID_PARAM}
# Public videos share one token per video per window: every viewer's requests then hit the
# same entry of nginx's gate cache, so a popular video costs the app a check every few seconds.
_SHARED_VIEWER = uuid.UUID(int=0)
_SHARED_SESSIONS = uuid.UUID("6f1c0a52-8e0e-4d53-9d0a-6b8a7c1e9f31")


# ---- tus ---------------------------------------------------------------------------------------


@routes.options("/api/videos/uploads", name="video_upload_options")
@api.spec({204: None}, public=True, tag="videos")
@tus.tus_headers
async def upload_options(request: web.Request) -> web.StreamResponse:
    """tus OPTIONS: the protocol version, extensions and the size cap."""
    return tus.options_reply(request.app[VIDEO_CONFIG])


@routes.post("/api/videos/uploads", name="video_upload_create")
@api.spec({201: UploadCreated}, headers={**_TUS, "Upload-Length": _LENGTH}, tag="videos")
@tus.tus_headers
async def upload_create(request: web.Request) -> web.StreamResponse:
    """tus creation: `Upload-Length` bytes, `Upload-Metadata` filename/title/realm/visibility;
    answers `Location` and `Video-Id`."""
    return await tus.create(request, request.app[VIDEO_CONFIG])


@routes.options("/api/videos/uploads/{upload_id}", name="video_upload_item_options")
@api.spec({204: None}, public=True, path=_UPLOAD_PATH, tag="videos")
@tus.tus_headers
async def upload_item_options(request: web.Request) -> web.StreamResponse:
    """tus OPTIONS on an upload."""
    validate.path_uuid(request, "upload_id")
    return tus.options_reply(request.app[VIDEO_CONFIG])


@routes.head("/api/videos/uploads/{upload_id}", name="video_upload_offset")
@tus.tus_headers
async def upload_offset(request: web.Request) -> web.StreamResponse:
    """tus HEAD: `Upload-Offset` says how much is stored."""
    upload_id = validate.path_uuid(request, "upload_id")
    return await tus.head(request, request.app[VIDEO_CONFIG], upload_id)


@routes.patch("/api/videos/uploads/{upload_id}", name="video_upload_patch")
@api.spec(
    {204: None},
    headers={**_TUS, "Upload-Offset": _LENGTH},
    path=_UPLOAD_PATH,
    content=api.Media(tus.OFFSET_TYPE, {"type": "string", "format": "binary"}),
    tag="videos",
)
@tus.tus_headers
async def upload_patch(request: web.Request) -> web.StreamResponse:
    """tus PATCH: bytes at `Upload-Offset` (409 if the upload stands elsewhere, 413 past its
    length)."""
    upload_id = validate.path_uuid(request, "upload_id")
    return await tus.patch(request, request.app[VIDEO_CONFIG], upload_id)


@routes.delete("/api/videos/uploads/{upload_id}", name="video_upload_terminate")
@api.spec({204: None}, headers=_TUS, path=_UPLOAD_PATH, tag="videos")
@tus.tus_headers
async def upload_terminate(request: web.Request) -> web.StreamResponse:
    """tus termination: the upload and its video are removed."""
    upload_id = validate.path_uuid(request, "upload_id")
    return await tus.terminate(request, request.app[VIDEO_CONFIG], upload_id)


# ---- videos ------------------------------------------------------------------------------------


async def _viewer(request: web.Request) -> uuid.UUID | None:
    principal = await optional_user(request)
    return None if principal is None else principal.user_id


@routes.get("/api/videos/{id}", name="video_get")
@api.spec({200: VideoOut}, public=True, tag="videos")
async def get_video(request: web.Request) -> web.Response:
    """A video the caller may see (the artist sees their own in every state)."""
    video_id = validate.path_uuid(request)
    viewer = await _viewer(request)
    async with request.app[DB].acquire() as conn:
        video = await service.viewable(conn, video_id, viewer)
        counts = await engagement.counts(conn, video.id)
    return api.reply(video_json(request.app, video, counts.likes, counts.views), VideoOut)


@routes.patch("/api/videos/{id}", name="video_edit")
@api.spec({200: VideoOut}, body=VideoEdit, tag="videos")
async def edit_video(request: web.Request) -> web.Response:
    """The artist edits title, description, tags, realm or visibility."""
    principal = await require_user(request)
    video_id = validate.path_uuid(request)
    changes = (await api.body(request, VideoEdit)).changes()
    async with request.app[DB].acquire() as conn:
        video = await service.edit(
            request.app, conn, video_id, principal.user_id, principal.is_admin, changes
        )
        counts = await engagement.counts(conn, video.id)
    return api.reply(video_json(request.app, video, counts.likes, counts.views), VideoOut)


@routes.delete("/api/videos/{id}", name="video_delete")
@api.spec({204: None}, tag="videos")
async def delete_video(request: web.Request) -> web.Response:
    """The artist deletes a video; its files are removed shortly after."""
    principal = await require_user(request)
    video_id = validate.path_uuid(request)
    async with request.app[DB].acquire() as conn:
        await service.delete(request.app, conn, video_id, principal.user_id, principal.is_admin)
    return web.Response(status=204)


@routes.post("/api/videos/{id}/playback", name="video_playback")
@api.spec({200: VodGrant}, public=True, tag="videos")
async def playback(request: web.Request) -> web.Response:
    """A token URL for the video's master playlist under the nginx gate."""
    video_id = validate.path_uuid(request)
    viewer = await _viewer(request)
    async with request.app[DB].acquire() as conn:
        video = await service.viewable(conn, video_id, viewer)
    if video.state != "ready":
        raise service.video_not_found()
    cfg, now = request.app[CONFIG], int(request.app[CLOCK].time())
    if video.visibility == "public":
        window = cfg.playback_ttl
        exp = (now // window + 2) * window
        claims = tokens.PlaybackClaims(
            _SHARED_VIEWER, video.id, uuid.uuid5(_SHARED_SESSIONS, str(video.id)), exp, "vod"
        )
    else:
        exp = now + cfg.playback_ttl
        claims = tokens.PlaybackClaims(viewer or _SHARED_VIEWER, video.id, uuid.uuid4(), exp, "vod")
    token = tokens.sign(cfg.playback_secret.encode(), claims)
    url = playback_url(request.app, token, video.id, "vod")
    assert url.endswith("/" + MASTER)
    return api.reply(VodGrant(url=url, expires_at=exp))


@routes.get("/api/videos/{id}/poster", name="video_poster")
@api.spec(
    {200: api.Media("image/jpeg", {"type": "string", "format": "binary"})},
    public=True,
    tag="videos",
)
async def poster(request: web.Request) -> web.StreamResponse:
    """The video's poster frame (JPEG)."""
    video_id = validate.path_uuid(request)
    viewer = await _viewer(request)
    async with request.app[DB].acquire() as conn:
        video = await service.viewable(conn, video_id, viewer)
    path = published(request.app[VIDEO_CONFIG], video.id) / POSTER
    exists = await asyncio.get_running_loop().run_in_executor(None, path.is_file)
    if video.state != "ready" or not exists:
        raise service.video_not_found()
    cache = "public, max-age=300" if video.visibility == "public" else "private, max-age=300"
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg", "Cache-Control": cache})


@routes.get("/api/artists/{id}/videos", name="artist_videos")
@api.spec({200: VideoPage}, query=PageQuery, public=True, tag="videos")
async def artist_videos(request: web.Request) -> web.Response:
    """An artist's videos the caller may see, newest first (keyset pages)."""
    artist_id = validate.path_uuid(request)
    page = api.query(request, PageQuery)
    secret = request.app[CONFIG].jwt_secret
    before = None if page.cursor is None else cursor.decode(secret, page.cursor)
    viewer = await _viewer(request)
    async with request.app[DB].acquire() as conn:
        videos = await service.by_artist(
            conn, artist_id, viewer, limit=page.limit + 1, before=before
        )
        videos = videos[: page.limit + 1]
        counts = await engagement.counts_many(conn, [v.id for v in videos])
    more = len(videos) > page.limit
    videos = videos[: page.limit]
    nxt = cursor.encode(secret, videos[-1].created_at, videos[-1].id) if more else None
    return api.reply(
        {
            "items": [
                video_json(request.app, v, counts[v.id].likes, counts[v.id].views) for v in videos
            ],
            "next": nxt,
        },
        VideoPage,
    )
