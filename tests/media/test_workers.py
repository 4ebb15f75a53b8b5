"""Transcoding on separate `mhc worker` processes sharing the media store: a worker killed
mid-transcode leaves a job that another worker finishes (its partial output cleaned), and the
transcode limit holds across workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from server.localstack import free_port, fresh_database
from tests.conftest import Api, make_config
from tests.services import Services
from tests.streaming import until
from tests.videos import clip, upload

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    """One `mhc serve` that runs no jobs, and the means to start `mhc worker`s beside it."""

    api: Api
    media_dir: Path
    start_worker: Callable[[], subprocess.Popen[bytes]]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
async def cluster(services: Services, tmp_path: Path) -> AsyncIterator[Cluster]:
    dsn = await fresh_database(services.database_url, "mhc_vod")
    port = free_port()
    media = tmp_path / "shared-media"
    cfg = make_config(
        services,
        DATABASE_URL=dsn,
        REDIS_URL=urlsplit(services.redis_url)._replace(path="/4").geturl(),
        MHC_PORT=str(port),
        MHC_STATE_DIR=str(tmp_path / "state"),
        MHC_MEDIA_DIR=str(media),
        MHC_VIDEO_TRANSCODES="1",
        MHC_JOBS_WORKER="off",
    )
    env = {**cfg.env, "MHC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    procs: list[subprocess.Popen[bytes]] = []

    def start(command: str, **extra: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{command}-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", command],
            cwd=ROOT,
            env={**env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the worker and its ffmpeg are killed together
        )
        procs.append(proc)
        return proc

    start("serve")
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:

        async def ready() -> bool:
            try:
                async with session.get(url + "/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        try:
            await until(ready, 60, "mhc serve to answer")
            yield Cluster(Api(session, url, None), media, lambda: start("worker"))  # type: ignore[arg-type]
        finally:
            for proc in procs:
                _stop(proc)


async def _video(api: Api, token: str, video_id: str) -> dict[str, object]:
    status, body = await api.call("GET", f"/api/videos/{video_id}", token=token)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def _work_dirs(media: Path) -> list[Path]:
    return list((media / "videos").glob(".*.work-*")) if (media / "videos").is_dir() else []


async def test_a_killed_worker_leaves_a_job_another_worker_finishes(cluster: Cluster) -> None:
    api = cluster.api
    artist = await api.register("artist")
    token = artist["access"]
    video_id = await upload(api, token, await clip(20, "640x480"))
    assert (await _video(api, token, video_id))["state"] == "processing"
    first = cluster.start_worker()

    async def midway() -> bool:
        video = await _video(api, token, video_id)
        return 0 < int(video["progress"]) < 90  # type: ignore[call-overload]

    await until(midway, 60, "the first worker to be transcoding")
    assert _work_dirs(cluster.media_dir), "a partial ladder is being written"
    os.killpg(first.pid, signal.SIGKILL)  # the machine dies: worker and ffmpeg at once
    first.wait()
    stalled = await _video(api, token, video_id)
    assert stalled["state"] == "processing"

    cluster.start_worker()
    started = time.monotonic()

    async def ready() -> dict[str, object] | None:
        video = await _video(api, token, video_id)
        assert video["state"] != "failed", video
        return video if video["state"] == "ready" else None

    video = await until(ready, 120, "another worker to take the job over")
    assert time.monotonic() - started < 120
    assert video["duration_s"] == pytest.approx(20, abs=0.5)
    assert _work_dirs(cluster.media_dir) == []  # the dead run's partial output is gone
    ladder = cluster.media_dir / "videos" / video_id
    assert (ladder / "index.m3u8").is_file() and (ladder / "480p.m3u8").is_file()
    # The two rungs hold the whole video: every segment the playlists name exists.
    for rung in ("240p.m3u8", "480p.m3u8"):
        names = [n for n in (ladder / rung).read_text().splitlines() if n.endswith(".ts")]
        assert len(names) >= 5 and all((ladder / n).is_file() for n in names)


async def test_two_workers_transcode_no_more_than_the_limit_at_once(cluster: Cluster) -> None:
    api = cluster.api
    artist = await api.register("artist")
    token = artist["access"]
    cluster.start_worker()
    cluster.start_worker()
    data = await clip(4, "640x480")
    ids = await asyncio.gather(*(upload(api, token, data) for _ in range(3)))
    most = 0

    async def all_ready() -> bool:
        nonlocal most
        most = max(most, len(_work_dirs(cluster.media_dir)))
        states = [(await _video(api, token, v))["state"] for v in ids]
        assert "failed" not in states, states
        return all(s == "ready" for s in states)

    await until(all_ready, 180, "three videos on two workers")
    assert most == 1, f"{most} transcodes ran at once with MHC_VIDEO_TRANSCODES=1"
