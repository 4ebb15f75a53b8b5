"""Scale-out: app processes on different ports sharing PostgreSQL and Redis form one chat."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from socketio import packet

from server.keys import CONFIG
from server.localstack import free_port
from tests.chat.conftest import Client, joined, new_show
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
PRESENCE_INTERVAL = 0.5


@asynccontextmanager
async def app_process(
    app: web.Application, log_dir: Path
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`mhc serve` in a child process with the session app's services and secrets."""
    port = free_port()
    env = {
        **app[CONFIG].env,
        "MHC_PORT": str(port),
        "MHC_LOG_LEVEL": "WARNING",
        "MHC_CHAT_PRESENCE_INTERVAL": str(PRESENCE_INTERVAL),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("MHC_ENV_FILE", None)
    log = await asyncio.to_thread((log_dir / f"app-{port}.log").open, "wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                if proc.returncode is not None:
                    raise RuntimeError(f"app process exited; see {log.name}")
                try:
                    async with session.get(url + "/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"app process did not become ready; see {log.name}")
        yield url, proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


@pytest.fixture(scope="module")
async def second(
    app_server: tuple[web.Application, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A second app process, for the whole module."""
    async with app_process(app_server[0], tmp_path_factory.mktemp("second")) as (url, _):
        yield url


async def test_messages_cross_processes(
    api: Api, url: str, second: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan_a, fan_b = await api.register("fan"), await api.register("fan")
    on_a = await joined(clients, url, fan_a["access"], show.id)
    on_b = await joined(clients, second, fan_b["access"], show.id)
    sent = (await on_a.call("send", {"event_id": show.id, "text": "from A"}))["message"]
    assert await on_b.wait_for("message") == sent
    sent = (await on_b.call("send", {"event_id": show.id, "text": "from B"}))["message"]
    assert await on_a.wait_for("message", lambda m: m["text"] == "from B") == sent
    # History written by either process is one history.
    late = await joined(clients, second, fan_a["access"], show.id)
    history = (await late.call("join", {"event_id": show.id}))["messages"]
    assert [m["text"] for m in history] == ["from A", "from B"]


async def test_moderation_crosses_processes(
    api: Api, url: str, second: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan, other = await api.register("fan"), await api.register("fan")
    victim = await joined(clients, second, fan["access"], show.id)
    witness = await joined(clients, second, other["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    message = (await victim.call("send", {"event_id": show.id, "text": "spam"}))["message"]
    assert (await artist.call("delete", {"event_id": show.id, "message_id": message["id"]}))["ok"]
    assert (await witness.wait_for("message_deleted"))["message_id"] == message["id"]
    assert (await artist.call("ban", {"event_id": show.id, "user_id": fan["user"]["id"]}))["ok"]
    assert await victim.wait_for("banned") == {"event_id": show.id}
    await artist.call("send", {"event_id": show.id, "text": "after"})
    await witness.wait_for("message", lambda m: m["text"] == "after")
    await victim.barrier()
    assert not victim.seen("message", lambda m: m["text"] == "after")
    assert (await victim.call("join", {"event_id": show.id}))["error"]["code"] == "banned"
    assert (await artist.call("slow_mode", {"event_id": show.id, "seconds": 60}))["ok"]
    assert (await witness.wait_for("slow_mode"))["seconds"] == 60
    assert (await witness.call("send", {"event_id": show.id, "text": "one"}))["ok"]
    assert (await witness.call("send", {"event_id": show.id, "text": "two"}))["error"][
        "code"
    ] == "slow_mode"


async def test_stream_status_reaches_other_process(
    api: Api, second: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    on_b = await joined(clients, second, fan["access"], show.id)
    secret = api.app[CONFIG].hook_secret
    fields = {"name": show.event["stream_key"], "clientid": "9", "call": "publish"}
    async with api.session.post(
        f"{api.base_url}/hooks/rtmp/{secret}/publish", data=fields, allow_redirects=False
    ) as resp:
        assert resp.status == 302
    assert (await on_b.wait_for("stream_started"))["event_id"] == show.id


async def test_viewers_across_processes_and_dead_process_expiry(
    api: Api, url: str, second: str, clients: Callable[[], Client], tmp_path: Path
) -> None:
    show = await new_show(api)
    users = [await api.register("fan") for _ in range(3)]
    await joined(clients, url, users[0]["access"], show.id)
    on_b = await joined(clients, second, users[1]["access"], show.id)
    path = f"/api/live/{show.id}/viewers"
    assert (await api.call("GET", path))[1]["viewers"] == 2
    async with aiohttp.ClientSession() as session, session.get(second + path) as resp:
        assert (await resp.json())["viewers"] == 2
    # Process B broadcasts the shared count to its own clients every interval.
    await on_b.wait_for("viewers", lambda d: d == {"event_id": show.id, "viewers": 2})
    async with app_process(api.app, tmp_path) as (third, proc):
        await joined(clients, third, users[2]["access"], show.id)
        assert (await api.call("GET", path))[1]["viewers"] == 3
        proc.send_signal(signal.SIGKILL)  # no clean shutdown: its heartbeats just stop
        await proc.wait()
        # Its viewer drops out once its last heartbeat's expiry passes (3 intervals).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PRESENCE_INTERVAL * 3 + 5
        while (await api.call("GET", path))[1]["viewers"] != 2:
            assert loop.time() < deadline, "the dead process's viewer never expired"
            await asyncio.sleep(0.1)


async def test_rights_taken_back_in_one_process_reach_sockets_on_another(
    api: Api, url: str, second: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan, helper = await api.register("fan"), await api.register("fan")
    listener = await joined(clients, second, fan["access"], show.id)
    other_tab = await joined(clients, second, fan["access"], show.id)
    # A faked disconnect on the other process does not hide the socket either.
    await listener.sio._send_packet(
        listener.sio.packet_class(packet.EVENT, namespace="/", data=["disconnect"])
    )
    status, _ = await api.call(
        "POST",
        f"/api/live/{show.id}/moderators",
        token=show.artist_token,
        json={"user_id": helper["user"]["id"]},
    )
    assert status == 201
    moderator = await joined(clients, second, helper["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    assert (await artist.call("slow_mode", {"event_id": show.id, "seconds": 60}))["ok"]
    status, _ = await api.call(
        "DELETE", f"/api/live/{show.id}/moderators/{helper['user']['id']}", token=show.artist_token
    )
    assert status == 204
    # No longer exempt from slow mode on process B, once B has heard of the removal.
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        reply = await moderator.call("send", {"event_id": show.id, "text": "may I?"})
        code = reply.get("error", {}).get("code")
        if code == "slow_mode":
            break
        assert reply.get("ok") or code == "rate_limited", reply
        assert asyncio.get_running_loop().time() < deadline, "still exempt on process B"
        await asyncio.sleep(0.05)

    status, _ = await api.call("POST", "/api/auth/logout", token=fan["access"])
    assert status == 200
    for socket in (listener, other_tab):
        assert await socket.wait_for("token_revoked") == {"user_id": fan["user"]["id"]}
        await asyncio.wait_for(socket.disconnected.wait(), 5)
    assert not moderator.seen("token_revoked")
