"""The replay service: when a stream ends, its recordings are packaged into an HLS VOD replay.

The end of a stream enqueues `media.package_replay` in the transaction that ends it (live's
STATUS_OUTBOX), so every ended show is packaged once a worker is free, whichever package
sells access to it (ticketing, later videos). One packaging runs at a time across all
workers: a stream that ends again while its replay is being packaged is packaged again
afterwards, whole.

A replay's state lives beside its files in the replay folder (`.<event>.state.json`), which
is what nginx serves replays from; a replay packaged before that file existed is read from
its playlist.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import Counter

from media import replay
from server import jobs
from server.keys import CONFIG
from server.live.service import STATUS_OUTBOX

log = logging.getLogger(__name__)
PACKAGE_JOB = "media.package_replay"
REPLAYS = Counter("mhc_replay_packaging_total", "Replay packaging runs by outcome", ["outcome"])
PACKAGING, READY, MISSING, FAILED = "packaging", "ready", "missing", "failed"


@dataclass(frozen=True)
class ReplayState:
    """Where an event's replay is: packaging, ready (with its shape), missing or failed."""

    status: str
    parts: int = 0
    segments: int = 0
    duration: float = 0.0
    error: str | None = None


def _state_file(root: Path, event_id: uuid.UUID) -> Path:
    return root / f".{event_id}.state.json"


def _write(root: Path, event_id: uuid.UUID, state: ReplayState) -> None:
    root.mkdir(parents=True, exist_ok=True)
    target = _state_file(root, event_id)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(asdict(state)))
    os.replace(temporary, target)  # readers see the old state or the new one, never half


def _from_playlist(playlist: Path) -> ReplayState:
    lines = playlist.read_text().splitlines()
    durations = [
        float(line[len("#EXTINF:") :].split(",", 1)[0])
        for line in lines
        if line.startswith("#EXTINF:")
    ]
    parts = 1 + sum(1 for line in lines if line == "#EXT-X-DISCONTINUITY")
    return ReplayState(READY, parts, len(durations), round(sum(durations), 3))


def state(app: web.Application, event_id: uuid.UUID) -> ReplayState | None:
    """The replay's state, or None when the event never ended with a recording step."""
    root = app[CONFIG].replay_dir
    try:
        return ReplayState(**json.loads(_state_file(root, event_id).read_text()))
    except FileNotFoundError:
        pass
    playlist = root / str(event_id) / replay.PLAYLIST
    return _from_playlist(playlist) if playlist.is_file() else None


async def package(app: web.Application, event_id: uuid.UUID) -> str:
    """Remux the event's recordings into its replay folder; returns the replay's status."""
    cfg = app[CONFIG]
    root = cfg.replay_dir
    files = replay.find_recordings(cfg.record_dir, str(event_id))
    if not files:
        _write(root, event_id, ReplayState(MISSING))
        REPLAYS.labels(MISSING).inc()
        return MISSING
    _write(root, event_id, ReplayState(PACKAGING))
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(None, replay.package, files, root, str(event_id))
    except Exception as exc:  # a broken recording is a failed replay, not a retried job
        log.exception("packaging the replay of %s failed", event_id)
        _write(root, event_id, ReplayState(FAILED, error=str(exc)[:500]))
        REPLAYS.labels(FAILED).inc()
        return FAILED
    _write(root, event_id, ReplayState(READY, result.parts, result.segments, result.duration))
    REPLAYS.labels(READY).inc()
    log.info(
        "replay of %s ready: %d parts, %d segments, %.1f s",
        event_id,
        result.parts,
        result.segments,
        result.duration,
    )
    return READY


async def _package_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job; running it again packages the same recordings again, whole."""
    await package(app, uuid.UUID(payload["event_id"]))


async def on_status_in_transaction(
    app: web.Application, conn: asyncpg.Connection, event_id: uuid.UUID, status: str
) -> None:
    """STATUS_OUTBOX hook: a stream that ended gets its replay packaged."""
    if status == "ended":
        await jobs.enqueue(app, conn, PACKAGE_JOB, {"event_id": str(event_id)})


def setup(app: web.Application) -> None:
    """Register the packaging job and the end-of-stream hook."""
    jobs.register(app, PACKAGE_JOB, _package_job, concurrency=1)
    app.setdefault(STATUS_OUTBOX, []).append(on_status_in_transaction)
