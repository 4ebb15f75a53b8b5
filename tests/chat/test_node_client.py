"""Interop: the official JavaScript client (socket.io-client from npm) against the chat."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.chat.conftest import Client, joined, new_show
from tests.conftest import Api

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="session")
def node_client() -> Path:
    """The client script, with socket.io-client installed from the lock file when missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are required (Debian: apt-get install nodejs npm)"
    if not (NODE_DIR / "node_modules" / "socket.io-client" / "package.json").is_file():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return NODE_DIR / "client.mjs"


async def test_socket_io_client_from_npm(
    api: Api, url: str, node_client: Path, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    python_side = await joined(clients, url, show.artist_token, show.id)
    await python_side.call("send", {"event_id": show.id, "text": "before node"})
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CHAT_URL": url,
        "CHAT_TOKEN": fan["access"],
        "CHAT_EVENT_ID": show.id,
    }
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(node_client),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    steps: dict[str, dict[str, Any]] = {}

    async def step(name: str) -> dict[str, Any]:
        while name not in steps:
            line = await asyncio.wait_for(proc.stdout.readline(), 20)  # type: ignore[union-attr]
            assert line, f"node exited early: {steps}"
            report = json.loads(line)
            assert report["step"] != "failed", report
            steps[report["step"]] = report
        return steps[name]

    try:
        assert (await step("refused"))["code"] == "invalid_token"
        assert (await step("connected"))["transport"] in ("polling", "websocket")
        joined_step = await step("joined")
        assert joined_step["ok"] is True and joined_step["status"] == "scheduled"
        assert joined_step["history"] == ["before node"]
        await python_side.call("send", {"event_id": show.id, "text": "from python"})
        received = await step("received")
        assert received == {
            "step": "received",
            "text": "from python",
            "author": show.artist["user"]["id"],
        }
        assert (await step("sent")) == {"step": "sent", "ok": True, "text": "from node ✓"}
        message = await python_side.wait_for("message", lambda m: m["text"] == "from node ✓")
        assert message["author"]["id"] == fan["user"]["id"]
        assert (await step("bad_input"))["code"] == "invalid_text"
        assert (await step("upgraded"))["transport"] == "websocket"
        await step("done")
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
