"""`mhc up` as an operator runs it: private PostgreSQL and Redis, nginx, the app, a demo key."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest

from server.localstack import free_port
from tests.streaming import obs, until

pytestmark = pytest.mark.e2e


async def test_up_starts_everything_and_a_stream_plays() -> None:
    state = Path(tempfile.mkdtemp(prefix="mhc-up-"))
    state.chmod(0o755)
    http, rtmp, app, relay = free_port(), free_port(), free_port(), free_port()
    # An operator's shell in the checkout: no settings at all, the state in ./.mhc-state.
    bare = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("MHC_")
    }
    env = {
        **bare,
        "MHC_HTTP_PORT": str(http),
        "MHC_RTMP_PORT": str(rtmp),
        "MHC_PORT": str(app),
        "MHC_NGINX_HOOK_PORT": str(relay),
        "PYTHONUNBUFFERED": "1",
    }
    mhc = shutil.which("mhc", path=str(Path(sys.executable).parent))
    assert mhc, "the mhc console script is installed with the package"
    proc = await asyncio.create_subprocess_exec(
        mhc,
        "up",
        env=env,
        cwd=state,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = b""
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while b"Ctrl-C stops everything" not in out:
            line = await asyncio.wait_for(proc.stdout.readline(), deadline - time.monotonic())
            assert line, f"mhc up exited early:\n{out.decode()}"
            out += line
        text = out.decode()
        assert f"rtmp://127.0.0.1:{rtmp}/live" in text
        key = re.search(r"OBS Stream Key:\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        event_id = re.search(r"demo event ([0-9a-f-]{36})", text).group(1)  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{http}"
        # nginx listens on loopback only unless MHC_BIND_ADDRESS opens it.
        for port in (http, rtmp):
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.2", port), timeout=2).close()
        demo = re.search(r"log in as (\S+) with password (\S+)", text)
        assert demo, text
        assert "./dev mhc user create --email you@example.com --role admin" in text
        # `mhc` beside the running stack finds its secrets and private services by itself.
        done = await asyncio.to_thread(
            subprocess.run,
            [mhc, "user", "create", "--email", "boss@example.test", "--role", "admin"],
            cwd=state,
            env=bare,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        admin_password = re.search(r"password=(\S+)", done.stdout).group(1)  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as session:
            for email, password, role in (
                (demo.group(1), demo.group(2), "artist"),
                ("boss@example.test", admin_password, "admin"),
            ):
                async with session.post(
                    base + "/api/auth/login", json={"email": email, "password": password}
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    assert (await resp.json())["user"]["role"] == role
            async with session.get(f"http://127.0.0.1:{app}/readyz") as resp:
                assert resp.status == 200
            async with session.get(base + "/readyz") as resp:
                assert resp.status == 404, "probes stay on the app port"
            async with session.post(
                base + "/api/auth/register",
                json={"email": "viewer@example.test", "password": "a long password"},
            ) as resp:
                viewer = await resp.json()
            async with session.post(
                base + f"/api/live/{event_id}/playback",
                headers={"Authorization": f"Bearer {viewer['access']}"},
            ) as resp:
                grant = await resp.json()
            assert grant["url"].startswith(base + "/play/")
            async with obs(f"rtmp://127.0.0.1:{rtmp}/live", key):

                async def playlist() -> bool:
                    async with session.get(grant["url"]) as r:
                        return r.status == 200 and ".ts" in await r.text()

                await until(playlist, 40, "the demo stream to play through nginx")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 30)
        left = (state / ".mhc-state" / "env").exists()
        shutil.rmtree(state, ignore_errors=True)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert not left, "the stack's env file goes when the stack stops"
