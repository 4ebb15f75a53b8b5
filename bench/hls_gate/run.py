"""HLS segment fetches through nginx with the auth_request gate versus the same file ungated.

Runs, side by side in one run on loopback: wrk against
  1. the same segment served by nginx with no gate (the baseline),
  2. the gated /play/<token>/<event>/<segment> path with nginx's short allow-cache (as shipped),
  3. the gated path with the cache off, so every request asks the app.
Also times in-process token verification. The last line is the ratio gated/ungated.

Usage: python bench/hls_gate/run.py [--seconds 10] [--connections 64]
Needs wrk (apt-get install wrk); uses DATABASE_URL/REDIS_URL or starts private ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server import localstack
from server.config import load_config
from server.nginx_config import NginxLayout, default_worker_user, prepare_dirs, render
from server.playback import tokens


def wrk(url: str, seconds: int, connections: int) -> float:
    """Requests per second wrk measured (non-2xx responses fail the run)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx responses from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


async def grant_for(base: str) -> tuple[str, str]:
    """A free event and a fan's playback grant, through the real API."""
    async with aiohttp.ClientSession() as s:

        async def register(role: str) -> str:
            async with s.post(
                base + "/api/auth/register",
                json={
                    "email": f"{role}-{uuid.uuid4().hex[:8]}@bench.test",
                    "password": "bench password",
                    "role": role,
                },
            ) as r:
                return str((await r.json())["access"])

        artist, fan = await register("artist"), await register("fan")
        async with s.post(
            base + "/api/live/create",
            headers={"Authorization": f"Bearer {artist}"},
            json={"title": "bench", "starts_at": "2030-01-01T00:00:00Z", "price": 0},
        ) as r:
            event = await r.json()
        async with s.post(
            base + f"/api/live/{event['id']}/playback", headers={"Authorization": f"Bearer {fan}"}
        ) as r:
            grant = await r.json()
    return event["id"], grant["token"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    try:
        dsn = stack.database_url(durable=False)
        redis_url = stack.redis_url()
        app_port, http_cached, http_nocache = (localstack.free_port() for _ in range(3))
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "MHC_PORT": str(app_port),
            "MHC_STATE_DIR": str(work / "state"),
            "MHC_PUBLIC_URL": f"http://127.0.0.1:{http_cached}",
            "MHC_LOG_LEVEL": "WARNING",
            **{
                n: secrets.token_urlsafe(32)
                for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")
            },
        }
        cfg = load_config(env)
        app = subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], env=env)
        stack.add(localstack.Service("app", app, app_port))
        localstack.wait_for_port(app_port, app, "app")

        event_id, token = asyncio.run(grant_for(f"http://127.0.0.1:{app_port}"))
        segment = cfg.hls_dir / event_id / "0.ts"
        for variant, port, cache in (
            ("cached", http_cached, NginxLayout.gate_cache_seconds),
            ("nocache", http_nocache, 0),
        ):
            layout = NginxLayout(
                state_dir=work / f"nginx-{variant}",
                rtmp_listen=str(localstack.free_port()),
                http_listen=f"127.0.0.1:{port}",
                app_host="127.0.0.1",
                app_port=app_port,
                hook_port=localstack.free_port(),
                gate_cache_seconds=cache,
                worker_user=default_worker_user(),
            )
            prepare_dirs(cfg, layout)
            conf = render(cfg, layout).replace(
                "        location /play/ {",
                f"        location /ungated/ {{\n            alias {cfg.hls_dir}/;\n        }}\n"
                "        location /play/ {",
                1,
            )
            (layout.state_dir / "nginx.conf").write_text(conf)
            stack.add(localstack.start_nginx(layout.state_dir / "nginx.conf", port))
        segment.parent.mkdir(parents=True, exist_ok=True)
        segment.write_bytes(
            b"\x47" + os.urandom(188 * 1000 - 1)
        )  # ~188 KB, a 2 s segment at ~750 kbit/s
        segment.parent.chmod(0o755)

        gated = f"/play/{token}/{event_id}/0.ts"
        ungated_url = f"http://127.0.0.1:{http_cached}/ungated/{event_id}/0.ts"
        cached_url = f"http://127.0.0.1:{http_cached}{gated}"
        # Whichever runs first pays for warming the machine, so both warm up, then run in
        # ABBA order and each figure is the mean of its two rounds.
        for url in (ungated_url, cached_url):
            wrk(url, 2, args.connections)
        half = max(1, args.seconds // 2)
        ungated_a = wrk(ungated_url, half, args.connections)
        cached_a = wrk(cached_url, half, args.connections)
        cached_b = wrk(cached_url, half, args.connections)
        ungated_b = wrk(ungated_url, half, args.connections)
        ungated_rps, cached_rps = (ungated_a + ungated_b) / 2, (cached_a + cached_b) / 2
        nocache_rps = wrk(f"http://127.0.0.1:{http_nocache}{gated}", args.seconds, args.connections)

        key = cfg.playback_secret.encode()
        n = 200_000
        verify_us = (
            timeit.timeit(lambda: tokens.verify(key, token, time.time()), number=n) / n * 1e6
        )
        print(
            f"segment size: {segment.stat().st_size} bytes; wrk {args.connections} connections, {args.seconds}s each"
        )
        print(f"ungated nginx:                 {ungated_rps:10.0f} req/s")
        print(
            f"gated, allow cached {NginxLayout.gate_cache_seconds}s:        {cached_rps:10.0f} req/s"
        )
        print(
            f"gated, no cache (app per req): {nocache_rps:10.0f} req/s  (ratio {nocache_rps / ungated_rps:.3f})"
        )
        print(f"token verification in-process: {verify_us:.2f} us/verify")
        print(f"ratio gated/ungated: {cached_rps / ungated_rps:.3f}")
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
