"""Resumable uploads: the core of tus 1.0 with its creation, termination and expiration
extensions, for artists' video files.

An upload's bytes go straight from the socket to `uploads/<upload id>` in the media store, a
chunk at a time, written from an executor; the file name is the server's, whatever the
client's metadata says. Each PATCH holds a lease on its upload (so two PATCHes never write at
once) and records what it stored when it ends, even when the client vanishes mid-way, so a
HEAD tells the client where to resume.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import web

from media.videos import processing, service, store
from media.videos.config import VideoConfig
from media.videos.models import UploadCreated
from media.videos.video import REALMS, VISIBILITIES
from server import api, jobs
from server.accounts.auth import require_user
from server.errors import ApiError, bad_request
from server.keys import DB

VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
READ_BYTES = 256 * 1024
# A PATCH re-arms its lease at least this often while bytes flow; a lease left by a dead
# process lapses after LEASE_SECONDS.
LEASE_SECONDS = 60.0
_NUMBER = re.compile(r"^[0-9]{1,19}$")
_META_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TITLE_MAX = 200

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tus_headers(handler: Handler) -> Handler:
    """Every answer, refusals included, says which protocol it speaks."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except ApiError as exc:
            response = web.json_response(exc.body(), status=exc.status)
            if exc.status == 412:
                response.headers["Tus-Version"] = VERSION
        response.headers["Tus-Resumable"] = VERSION
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


def _require_version(request: web.Request) -> None:
    sent = request.headers.get("Tus-Resumable")
    if sent is None:
        raise bad_request(f"Tus-Resumable is required (send {VERSION})", "invalid_header")
    if sent != VERSION:
        raise ApiError(412, "tus_version", f"this server speaks Tus-Resumable: {VERSION}")


def _number(request: web.Request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None:
        raise bad_request(f"{name} is required", "invalid_header")
    if not _NUMBER.match(raw):
        raise bad_request(f"{name} must be a non-negative integer", "invalid_header")
    return int(raw)


def parse_metadata(raw: str) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent)."""
    found: dict[str, str] = {}
    if not raw.strip():
        return found
    for item in raw.split(","):
        key, _, value = item.strip().partition(" ")
        if not _META_KEY.match(key) or key in found:
            raise bad_request("Upload-Metadata is malformed", "invalid_metadata")
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise bad_request(
                f"Upload-Metadata {key} is not base64 UTF-8", "invalid_metadata"
            ) from None
    return found


def _clean(value: str, what: str, limit: int) -> str:
    value = " ".join(value.split())
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise bad_request(
            f"{what} must be at most {limit} printable characters", "invalid_metadata"
        )
    return value


def video_fields(meta: dict[str, str]) -> dict[str, Any]:
    """Title, realm and visibility from the upload's metadata (defaults where absent)."""
    filename = _clean(meta.get("filename", ""), "filename", 255)
    title = _clean(meta.get("title", ""), "title", _TITLE_MAX) or filename.rsplit(".", 1)[0]
    realm = meta.get("realm", "purgatorio")
    visibility = meta.get("visibility", "public")
    if realm not in REALMS:
        raise bad_request(f"realm must be one of {', '.join(REALMS)}", "invalid_metadata")
    if visibility not in VISIBILITIES:
        raise bad_request(
            f"visibility must be one of {', '.join(VISIBILITIES)}", "invalid_metadata"
        )
    return {
        "filename": filename,
        "title": (title or "Untitled")[:_TITLE_MAX],
        "realm": realm,
        "visibility": visibility,
    }


def _expires(cfg: VideoConfig, touched: datetime) -> str:
    return format_datetime(
        touched.astimezone(UTC) + timedelta(seconds=cfg.upload_expiry_seconds), usegmt=True
    )


def options_reply(cfg: VideoConfig) -> web.Response:
    """What this server supports (tus OPTIONS)."""
    return web.Response(
        status=204,
        headers={
            "Tus-Version": VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(cfg.max_upload_bytes),
        },
    )


async def create(request: web.Request, cfg: VideoConfig) -> web.Response:
    """tus creation: a video in state uploading and an empty upload of `Upload-Length` bytes."""
    artist = await require_user(request, "artist")
    if request.headers.get("Upload-Defer-Length") is not None:
        raise bad_request(
            "Upload-Length is required (deferred lengths are not supported)", "invalid_header"
        )
    length = _number(request, "Upload-Length")
    _require_version(request)
    if length > cfg.max_upload_bytes:
        raise ApiError(413, "too_large", f"uploads are limited to {cfg.max_upload_bytes} bytes")
    if length == 0:
        raise bad_request("Upload-Length must be positive", "invalid_header")
    if request.content_length:
        raise bad_request(
            "send the file with PATCH (creation-with-upload is not supported)", "invalid_body"
        )
    fields = video_fields(parse_metadata(request.headers.get("Upload-Metadata", "")))
    video_id, upload_id = uuid.uuid4(), uuid.uuid4()
    path = processing.source_path(cfg, upload_id)
    await asyncio.get_running_loop().run_in_executor(None, _create_file, path)
    async with request.app[DB].acquire() as conn:
        await store.create(
            conn, video_id, upload_id, artist.user_id, length, fields["filename"], fields
        )
        upload = await store.upload(conn, upload_id)
    assert upload is not None
    location = f"/api/videos/uploads/{upload_id}"
    return api.reply(
        UploadCreated(video_id=video_id, upload_url=location),
        status=201,
        headers={
            "Location": location,
            "Video-Id": str(video_id),
            "Upload-Expires": _expires(cfg, upload.touched_at),
        },
    )


def _create_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: a fresh random name never meets an existing file; if it did, nothing is overwritten.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


async def _owned_upload(request: web.Request, upload_id: uuid.UUID) -> store.Upload:
    principal = await require_user(request, "artist")
    async with request.app[DB].acquire() as conn:
        upload = await store.upload(conn, upload_id)
    if upload is None or (upload.artist_id != principal.user_id and not principal.is_admin):
        raise ApiError(404, "upload_not_found", "upload not found")
    return upload


async def head(request: web.Request, cfg: VideoConfig, upload_id: uuid.UUID) -> web.Response:
    """tus HEAD: how many bytes of the upload are stored."""
    upload = await _owned_upload(request, upload_id)
    _require_version(request)
    headers = {"Upload-Offset": str(upload.received), "Upload-Length": str(upload.length)}
    if not upload.completed:
        headers["Upload-Expires"] = _expires(cfg, upload.touched_at)
    return web.Response(status=200, headers=headers)


def _open_at(path: Path, offset: int) -> BinaryIO:
    handle = path.open("r+b")
    handle.seek(offset)
    return handle


def _write(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)


def _finish(handle: BinaryIO, stored: int) -> None:
    # Bytes past what is recorded (a write cut short) are dropped, so the file is its offset.
    handle.flush()
    handle.truncate(stored)
    os.fsync(handle.fileno())
    handle.close()


async def patch(request: web.Request, cfg: VideoConfig, upload_id: uuid.UUID) -> web.Response:
    """tus PATCH: append the body at `Upload-Offset`; 409 when that is not where the upload
    stands, 413 past its length."""
    await require_user(request, "artist")
    offset = _number(request, "Upload-Offset")
    if request.content_type != OFFSET_TYPE:
        raise ApiError(415, "unsupported_media_type", f"send Content-Type: {OFFSET_TYPE}")
    _require_version(request)
    upload = await _owned_upload(request, upload_id)
    if upload.completed:
        raise ApiError(409, "upload_complete", "this upload is already complete")
    if offset != upload.received:
        raise ApiError(
            409,
            "offset_mismatch",
            f"the upload stands at {upload.received}",
            offset=upload.received,
        )
    declared = request.content_length
    if declared is not None and offset + declared > upload.length:
        raise ApiError(413, "too_large", "the chunk goes past Upload-Length")
    if declared is not None and declared > cfg.max_chunk_bytes:
        raise ApiError(413, "too_large", f"chunks are limited to {cfg.max_chunk_bytes} bytes")
    pool = request.app[DB]
    async with pool.acquire() as conn:
        if not await store.claim(conn, upload_id, offset, LEASE_SECONDS):
            raise ApiError(
                409, "offset_mismatch", "the upload moved on or another PATCH is writing it"
            )
    loop = asyncio.get_running_loop()
    path = processing.source_path(cfg, upload_id)
    stored, renewed = offset, loop.time()
    too_long = lost = False
    handle = await loop.run_in_executor(None, _open_at, path, offset)
    try:
        while True:
            try:
                data = await request.content.readany()
            except ConnectionError:
                lost = True  # the phone dropped off: keep what came, it resumes from there
                break
            if not data:
                break
            if stored + len(data) > upload.length:
                # A body that overruns the upload is refused whole: nothing of it is kept.
                too_long, stored = True, offset
                break
            await loop.run_in_executor(None, _write, handle, data)
            stored += len(data)
            if loop.time() - renewed > LEASE_SECONDS / 3:
                async with pool.acquire() as conn:
                    await store.extend(conn, upload_id, LEASE_SECONDS)
                renewed = loop.time()
    finally:
        # Whatever arrived is kept, even from a client that vanished mid-chunk: it resumes here.
        await asyncio.shield(_settle(request.app, cfg, handle, upload, stored))
    if too_long:
        raise ApiError(413, "too_large", "the chunk goes past Upload-Length", offset=offset)
    if lost:
        raise ApiError(400, "connection_lost", "the body ended early; HEAD tells where to resume")
    headers = {"Upload-Offset": str(stored)}
    if stored < upload.length:
        headers["Upload-Expires"] = _expires(cfg, datetime.now(UTC))
    return web.Response(status=204, headers=headers)


async def _settle(
    app: web.Application, cfg: VideoConfig, handle: BinaryIO, upload: store.Upload, stored: int
) -> None:
    await asyncio.get_running_loop().run_in_executor(None, _finish, handle, stored)
    async with app[DB].acquire() as conn, conn.transaction():
        done = await store.release(conn, upload.id, stored)
        video = None
        if done is not None and done.completed:
            video = await store.start_processing(conn, upload.video_id)
            if video is not None:
                await jobs.enqueue(app, conn, processing.PROCESS_JOB, {"video_id": str(video.id)})
    if video is not None:
        await service.announce(app, video)


async def terminate(request: web.Request, cfg: VideoConfig, upload_id: uuid.UUID) -> web.Response:
    """tus termination: the upload, and the video it was for, are removed."""
    upload = await _owned_upload(request, upload_id)
    _require_version(request)
    principal = await require_user(request)
    async with request.app[DB].acquire() as conn:
        await service.delete(
            request.app, conn, upload.video_id, principal.user_id, principal.is_admin
        )
    return web.Response(status=204)
