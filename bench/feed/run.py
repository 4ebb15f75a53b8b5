"""Trending-feed pages per second and p99 latency, against a bare query behind a minimal endpoint.

Setup: 100,000 videos and 1,000,000 view events (distinct viewers, Zipf-like popularity over
the last week) bulk-loaded through COPY into the feed index, the per-viewer view rows and the
counters, with each video's trending heat computed as the engagement path maintains it; the
same 100,000 rows go into a baseline table of the same shape.

Runs, side by side in one run on loopback, in alternating rounds:
  1. ours: 64 concurrent anonymous readers of `GET /api/feed/trending?limit=20` on a real
     `mhc serve` process, each following the signed `next` cursor for 5 pages, then again
     (live cards, artist names, cursor signing and checking included);
  2. baseline: the same readers against a minimal aiohttp endpoint in its own process
     (baseline_app.py) running only `SELECT ... ORDER BY hot DESC LIMIT 20`.
Then the view-recording throughput: 64 concurrent `POST /api/recommendation/video/{id}/view`
with fresh device ids on random videos (each one counted: dedup row, counters, heat, rollups).
The last line is the ratio ours/baseline (pages per second).

Usage: python bench/feed/run.py [--videos 100000] [--views 1000000] [--seconds 8]
Uses a private PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from media.feeds import heat
from server import localstack

READERS = 64
PAGES = 5
ROUNDS = 2
ARTISTS = 1000
REALMS = ("inferno", "purgatorio", "paradiso")


def _logaddexp(a: float, b: float) -> float:
    big, small = max(a, b), min(a, b)
    return big + math.log1p(math.exp(small - big))


async def _copy(
    conn: asyncpg.Connection, table: str, columns: list[str], rows: list[tuple[object, ...]]
) -> None:
    await conn.copy_records_to_table(table, records=rows, columns=columns)


async def _seed(dsn: str, n_videos: int, n_views: int) -> list[uuid.UUID]:
    """The feed index, view rows and counters, and the baseline table; returns the video ids."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    now_s, t0_s = now.timestamp(), heat.T0.timestamp()
    artists = [uuid.uuid4() for _ in range(ARTISTS)]
    videos = [uuid.uuid4() for _ in range(n_videos)]
    owner = [artists[rng.randrange(ARTISTS)] for _ in range(n_videos)]
    published_s = [now_s - rng.uniform(0, 30 * 86400) for _ in range(n_videos)]
    published = [datetime.fromtimestamp(p, UTC) for p in published_s]
    log_publish, log_view = math.log(heat.PUBLISH), math.log(heat.VIEW)
    hot = [log_publish + (p - t0_s) / heat.TAU for p in published_s]
    # Zipf-like popularity: a few videos take most views.
    weights = [1 / (rank + 1) ** 0.9 for rank in range(n_videos)]
    rng.shuffle(weights)
    picks = rng.choices(range(n_videos), weights=weights, k=n_views)
    views = [0] * n_videos
    viewer_rows: list[tuple[object, ...]] = []
    week = 7 * 86400
    for n, v in enumerate(picks):
        at = max(published_s[v], now_s - rng.random() * week)
        views[v] += 1
        # The same log-add-exp the engagement path runs in SQL.
        hot[v] = _logaddexp(hot[v], log_view + (at - t0_s) / heat.TAU)
        viewer_rows.append((videos[v], f"d:bench-{n}", datetime.fromtimestamp(at, UTC), 0.0))
    entries = [
        (
            videos[i],
            owner[i],
            f"Video {i}",
            REALMS[i % 3],
            "public",
            ["bench", REALMS[i % 3]],
            float(60 + i % 600),
            published[i],
            hot[i],
        )
        for i in range(n_videos)
    ]
    columns = [
        "video_id",
        "artist_id",
        "title",
        "realm",
        "visibility",
        "tags",
        "duration_s",
        "published_at",
        "hot",
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await _copy(
            conn,
            "users",
            ["id", "email", "password_hash", "display_name", "role"],
            [
                (a, f"artist-{a.hex}@bench.test", "x", f"Artist {a.hex[:6]}", "artist")
                for a in artists
            ],
        )
        # The videos themselves, ready, as processing leaves them: a view checks the video.
        await _copy(
            conn,
            "videos",
            [
                "id",
                "artist_id",
                "title",
                "tags",
                "realm",
                "visibility",
                "state",
                "progress",
                "duration_s",
                "width",
                "height",
                "created_at",
                "ready_at",
            ],
            [
                (e[0], e[1], e[2], e[5], e[3], "public", "ready", 100, e[6], 1280, 720, e[7], e[7])
                for e in entries
            ],
        )
        await _copy(conn, "feed_entries", columns, entries)
        await _copy(
            conn,
            "video_stats",
            ["video_id", "views", "likes", "watch_seconds"],
            [(videos[i], views[i], 0, 0.0) for i in range(n_videos)],
        )
        await _copy(
            conn, "video_viewers", ["video_id", "viewer", "counted_at", "watched_s"], viewer_rows
        )
        await conn.execute(
            """CREATE TABLE bench_trending (LIKE feed_entries INCLUDING ALL);
            CREATE INDEX bench_trending_hot ON bench_trending (hot DESC)"""
        )
        await _copy(conn, "bench_trending", columns, entries)
        await conn.execute("VACUUM ANALYZE feed_entries")
        await conn.execute("VACUUM ANALYZE bench_trending")
        await conn.execute(
            "ANALYZE video_viewers; ANALYZE video_stats; ANALYZE users; ANALYZE videos"
        )
    finally:
        await conn.close()
    return videos


async def _load(
    seconds: float, act: Callable[[list[float]], Awaitable[int]]
) -> tuple[int, list[float]]:
    """READERS loops calling act (which times each of its requests) for `seconds`."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    done = 0

    async def loop() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            made = await act(latencies)
            done += made

    await asyncio.gather(*(loop() for _ in range(READERS)))
    return done, latencies


def _p(latencies: list[float], q: float) -> float:
    return statistics.quantiles(latencies, n=1000)[int(q * 1000) - 1] * 1000


async def _bench(base: str, other: str, videos: list[uuid.UUID], seconds: float) -> None:
    connector = aiohttp.TCPConnector(limit=READERS * 2)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def ours(latencies: list[float]) -> int:
            cursor = None
            for _page in range(PAGES):
                url = base + "/api/feed/trending?limit=20" + (f"&cursor={cursor}" if cursor else "")
                t0 = time.perf_counter()
                async with session.get(url) as resp:
                    body = await resp.json()
                latencies.append(time.perf_counter() - t0)
                if resp.status != 200 or len(body["items"]) != 20:
                    raise SystemExit(f"a trending page failed: {resp.status} {body}")
                cursor = body["next"]
            return PAGES

        async def bare(latencies: list[float]) -> int:
            t0 = time.perf_counter()
            async with session.get(other + "/trending") as resp:
                body = await resp.json()
            latencies.append(time.perf_counter() - t0)
            if resp.status != 200 or len(body["items"]) != 20:
                raise SystemExit(f"a baseline page failed: {resp.status}")
            return 1

        await _load(2, ours)
        await _load(2, bare)
        ours_n = bare_n = 0
        ours_lat: list[float] = []
        bare_lat: list[float] = []
        for _ in range(ROUNDS):
            n, lat = await _load(seconds, ours)
            ours_n, ours_lat = ours_n + n, ours_lat + lat
            n, lat = await _load(seconds, bare)
            bare_n, bare_lat = bare_n + n, bare_lat + lat

        counter = iter(range(10**9))
        failures = 0

        async def post_view(latencies: list[float]) -> int:
            nonlocal failures
            video = videos[random.randrange(len(videos))]
            headers = {"X-Device-Id": f"bench-post-{next(counter)}"}
            t0 = time.perf_counter()
            async with session.post(
                f"{base}/api/recommendation/video/{video}/view", headers=headers
            ) as resp:
                body = await resp.json()
            latencies.append(time.perf_counter() - t0)
            if resp.status != 200 or not body["counted"]:
                failures += 1
            return 1

        views_n, views_lat = await _load(seconds, post_view)

    total = seconds * ROUNDS
    ours_rate, bare_rate, view_rate = ours_n / total, bare_n / total, views_n / seconds
    print(
        f"trending over {len(videos)} videos, {READERS} concurrent readers, "
        f"{ROUNDS} alternating rounds of {seconds:.0f} s each"
    )
    print(
        f"ours      (GET /api/feed/trending, 5 keyset pages): {ours_rate:8.0f} pages/s  "
        f"p50 {_p(ours_lat, 0.5):7.2f} ms  p99 {_p(ours_lat, 0.99):7.2f} ms"
    )
    print(
        f"baseline  (bare SELECT ORDER BY hot LIMIT 20):      {bare_rate:8.0f} pages/s  "
        f"p50 {_p(bare_lat, 0.5):7.2f} ms  p99 {_p(bare_lat, 0.99):7.2f} ms"
    )
    print(
        f"views     (POST .../view, each counted):            {view_rate:8.0f} views/s  "
        f"p50 {_p(views_lat, 0.5):7.2f} ms  p99 {_p(views_lat, 0.99):7.2f} ms  "
        f"({failures} not counted)"
    )
    print(f"ratio ours/baseline: {ours_rate / bare_rate:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--views", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    try:
        dsn = stack.database_url(durable=False)
        dsn = asyncio.run(localstack.fresh_database(dsn, "mhc_bench"))
        redis_url = stack.redis_url()
        port = localstack.free_port()
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "MHC_PORT": str(port),
            "MHC_STATE_DIR": str(work / "state"),
            "MHC_LOG_LEVEL": "WARNING",
            "MHC_PAYMENTS": "dev",
            **{
                n: secrets.token_urlsafe(32)
                for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")
            },
        }
        for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
            env.pop(name, None)
        app = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )
        stack.add(localstack.Service("app", app, port))
        localstack.wait_for_port(port, app, "app", timeout=120)  # migrated once it listens
        started = time.perf_counter()
        videos = asyncio.run(_seed(dsn, args.videos, args.views))
        print(
            f"loaded {args.videos} videos and {args.views} view events in "
            f"{time.perf_counter() - started:.1f} s"
        )
        other_port = localstack.free_port()
        minimal = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("baseline_app.py")),
                str(other_port),
                dsn,
            ],
            env=env,
        )
        stack.add(localstack.Service("baseline", minimal, other_port))
        localstack.wait_for_port(other_port, minimal, "baseline")
        asyncio.run(
            _bench(
                f"http://127.0.0.1:{port}",
                f"http://127.0.0.1:{other_port}",
                videos,
                args.seconds,
            )
        )
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
