"""The jobs that turn an upload into a published video, remove a deleted one's files, and
expire abandoned uploads.

`media.process_video` is safe to run again: it starts from the source upload each time, in a
fresh work folder, and replaces the published folder whole; a run cut short (a worker killed
mid-transcode) leaves a work folder that the next run of the same video removes first.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from media.feeds import index as feed_index
from media.videos import service, store, transcode
from media.videos.config import VideoConfig
from media.videos.probe import Probe, Refused, probe
from server import jobs
from server.keys import DB

log = logging.getLogger(__name__)
PROCESS_JOB = "media.process_video"
EXPIRE_SCHEDULE = "media.expire_uploads"
VIDEOS = Counter("mhc_video_processing_total", "Video processing runs by outcome", ["outcome"])
# Progress is written and pushed at most this often (ffmpeg reports several times a second).
PROGRESS_INTERVAL = 0.5

VIDEO_CONFIG = web.AppKey("video_config", VideoConfig)


def source_path(cfg: VideoConfig, upload_id: uuid.UUID) -> Path:
    """Where an upload's bytes are stored: named by the server, never by the client."""
    return cfg.uploads_dir / str(upload_id)


def published(cfg: VideoConfig, video_id: uuid.UUID) -> Path:
    """The folder nginx serves a ready video's ladder from."""
    return cfg.videos_dir / str(video_id)


def _work_dirs(cfg: VideoConfig, video_id: uuid.UUID) -> list[Path]:
    return list(cfg.videos_dir.glob(f".{video_id}.work-*"))


def _clean_work(cfg: VideoConfig, video_id: uuid.UUID) -> None:
    for leftover in _work_dirs(cfg, video_id):
        shutil.rmtree(leftover, ignore_errors=True)


def _publish(cfg: VideoConfig, work: Path, video_id: uuid.UUID) -> None:
    final = published(cfg, video_id)
    old = cfg.videos_dir / f".{video_id}.old-{secrets.token_hex(4)}"
    if final.exists():
        final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)


async def _fail(app: web.Application, video_id: uuid.UUID, reason: str) -> None:
    async with app[DB].acquire() as conn:
        video = await store.set_failed(conn, video_id, reason[:500])
    VIDEOS.labels("failed").inc()
    if video is not None:
        await service.announce(app, video)


async def process(app: web.Application, video_id: uuid.UUID) -> str:
    """Probe, transcode and publish one uploaded video; returns the outcome."""
    cfg = app[VIDEO_CONFIG]
    async with app[DB].acquire() as conn:
        video = await store.get(conn, video_id)
        upload_id = await store.upload_of(conn, video_id)
    if video is None or video.state != "processing" or upload_id is None:
        return "skipped"  # deleted meanwhile, or already done by an earlier run
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, _clean_work, cfg, video_id)
    source = source_path(cfg, upload_id)
    if not await loop.run_in_executor(None, source.is_file):
        # A worker that does not see the shared store must not fail the video: retry.
        raise FileNotFoundError(f"upload {upload_id} is not in the media store {cfg.media_dir}")
    try:
        shape: Probe = await loop.run_in_executor(None, probe, source)
    except Refused as exc:
        await _fail(app, video_id, str(exc))
        await loop.run_in_executor(None, lambda: source.unlink(missing_ok=True))
        return "failed"
    work = cfg.videos_dir / f".{video_id}.work-{secrets.token_hex(4)}"
    await loop.run_in_executor(None, lambda: work.mkdir(parents=True, mode=0o755))
    last = {"at": 0.0, "value": 0}

    async def progress(value: int) -> None:
        now = time.monotonic()
        if value <= last["value"] or now - last["at"] < PROGRESS_INTERVAL:
            return
        last.update(at=now, value=value)
        async with app[DB].acquire() as conn:
            if not await store.set_progress(conn, video_id, value):
                return
            current = await store.get(conn, video_id)
        if current is not None:
            await service.announce(app, current)

    try:
        try:
            await transcode.ladder(source, work, shape, cfg.segment_seconds, progress)
            await transcode.poster(source, work, shape)
        except transcode.TranscodeFailed as exc:
            log.warning("transcoding video %s failed: %s", video_id, exc)
            await _fail(app, video_id, f"transcoding failed: {exc}")
            return "failed"
        await loop.run_in_executor(None, _publish, cfg, work, video_id)
    finally:
        await loop.run_in_executor(None, shutil.rmtree, work, True)
    async with app[DB].acquire() as conn, conn.transaction():
        ready = await store.set_ready(conn, video_id, shape.duration, shape.width, shape.height)
        if ready is not None:
            await feed_index.index(conn, service.feed_entry(ready))
    if ready is None:  # deleted while transcoding: its removal may have run already
        await loop.run_in_executor(None, shutil.rmtree, published(cfg, video_id), True)
        return "skipped"
    await loop.run_in_executor(None, lambda: source.unlink(missing_ok=True))
    VIDEOS.labels("ready").inc()
    await service.announce(app, ready)
    log.info("video %s ready: %.1f s, %dx%d", video_id, shape.duration, shape.width, shape.height)
    return "ready"


async def _process_job(app: web.Application, payload: dict[str, Any]) -> None:
    await process(app, uuid.UUID(payload["video_id"]))


def _remove_files(cfg: VideoConfig, video_id: uuid.UUID, upload_id: uuid.UUID | None) -> None:
    shutil.rmtree(published(cfg, video_id), ignore_errors=True)
    _clean_work(cfg, video_id)
    if upload_id is not None:
        source_path(cfg, upload_id).unlink(missing_ok=True)


async def _remove_job(app: web.Application, payload: dict[str, Any]) -> None:
    """Removing what is already gone is a no-op, so a retry is harmless."""
    upload = payload.get("upload_id")
    await asyncio.get_running_loop().run_in_executor(
        None,
        _remove_files,
        app[VIDEO_CONFIG],
        uuid.UUID(payload["video_id"]),
        None if upload is None else uuid.UUID(upload),
    )


async def expire_uploads(app: web.Application, older_than_seconds: float) -> int:
    """Remove uploads that received nothing for `older_than_seconds`, with their videos;
    returns how many."""
    async with app[DB].acquire() as conn, conn.transaction():
        stale = await store.stale_uploads(conn, older_than_seconds)
        for upload in stale:
            await store.mark_deleted(conn, upload.video_id)
            await jobs.enqueue(
                app,
                conn,
                service.REMOVE_JOB,
                {"video_id": str(upload.video_id), "upload_id": str(upload.id)},
            )
    if stale:
        log.info("expired %d abandoned uploads", len(stale))
    return len(stale)


async def _expire_tick(app: web.Application) -> None:
    await expire_uploads(app, app[VIDEO_CONFIG].upload_expiry_seconds)


def setup(app: web.Application, cfg: VideoConfig) -> None:
    """Register the jobs; the transcode runs at most `cfg.transcodes` at once, queue-wide."""
    app[VIDEO_CONFIG] = cfg
    jobs.register(app, PROCESS_JOB, _process_job, concurrency=cfg.transcodes)
    jobs.register(app, service.REMOVE_JOB, _remove_job)
    jobs.schedule(app, EXPIRE_SCHEDULE, "*/10 * * * *", _expire_tick)
