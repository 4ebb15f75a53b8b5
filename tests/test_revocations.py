"""Revocations outlive Redis: logout, role changes and playback revocations are kept in
PostgreSQL, and a Redis that forgot them (restart without persistence, FLUSHALL) is refilled."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from redis.asyncio import Redis

from server.keys import CONFIG
from tests.apps import app_with
from tests.conftest import Api, admin_token, login
from tests.services import Services
from tests.streaming import until


async def me(api: Api, token: str) -> int:
    status, _ = await api.call("GET", "/api/auth/me", token=token)
    return status


async def gate(api: Api, url: str) -> int:
    async with api.session.get(
        api.base_url + "/internal/play-auth", headers={"X-Original-URI": urlsplit(url).path}
    ) as resp:
        return resp.status


async def test_revocations_stay_after_redis_forgets_them(
    app_server: tuple[web.Application, str], services: Services
) -> None:
    # A Redis database of its own, so forgetting everything touches no other test.
    redis_url = services.redis_url.rpartition("/")[0] + "/7"
    async with app_with(app_server[0], redis_url=redis_url) as api:
        user = await api.register("fan")
        logged_out = user["access"]
        status, _ = await api.call(
            "POST", "/api/auth/logout", token=logged_out, json={"refresh": user["refresh"]}
        )
        assert status == 200 and await me(api, logged_out) == 401

        promoted = await api.register("fan")
        status, _ = await api.call(
            "POST",
            f"/api/admin/users/{promoted['user']['id']}/role",
            token=await admin_token(api),
            json={"role": "moderator"},
        )
        assert status == 200 and await me(api, promoted["access"]) == 401

        artist, viewer = await api.register("artist"), await api.register("fan")
        event = await api.create_event(artist["access"])  # free: viewers open sessions directly
        status, grant = await api.call(
            "POST", f"/api/live/{event['id']}/playback", token=viewer["access"]
        )
        assert status == 200 and await gate(api, grant["url"]) == 200
        status, _ = await api.call(
            "DELETE", f"/api/playback/{grant['session_id']}", token=viewer["access"]
        )
        assert status == 200 and await gate(api, grant["url"]) == 403

        redis: Redis = Redis.from_url(redis_url)
        try:
            await redis.flushdb()  # what a restart without persistence leaves
        finally:
            await redis.aclose()
        assert await gate(api, grant["url"]) == 403, "a revoked playback token stays refused"
        assert await me(api, logged_out) == 401, "a logged-out token stays refused"
        assert await me(api, promoted["access"]) == 401, "a pre-role-change token stays refused"
        fresh = await login(api, promoted["email"], promoted["password"])
        assert await me(api, fresh["access"]) == 200
        status, again = await api.call(
            "POST", f"/api/live/{event['id']}/playback", token=viewer["access"]
        )
        assert status == 200 and await gate(api, again["url"]) == 200


async def test_cli_role_change_goes_through_the_same_rules(api: Api, services: Services) -> None:
    user = await api.register("fan")
    assert await me(api, user["access"]) == 200
    cfg = api.app[CONFIG]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "MHC_JWT_SECRET": cfg.jwt_secret,
            "MHC_PLAYBACK_SECRET": cfg.playback_secret,
            "MHC_HOOK_SECRET": cfg.hook_secret,
            "MHC_STATE_DIR": str(cfg.state_dir),
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "user",
        "set-role",
        "--email",
        user["email"],
        "--role",
        "moderator",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    assert await me(api, user["access"]) == 401, "the token issued before the change stops"
    fresh = await login(api, user["email"], user["password"])
    assert fresh["user"]["role"] == "moderator" and await me(api, fresh["access"]) == 200
    auditor = await admin_token(api)

    async def recorded() -> Any:
        # The record is appended by the job queue once the role change commits.
        status, found = await api.call(
            "GET",
            f"/api/forensics/logs?type=ROLE_CHANGED&subject={user['user']['id']}",
            token=auditor,
        )
        assert status == 200, found
        return found["records"] or None

    [record] = await until(recorded, 20, "the role change's forensic record")
    assert record["data"]["role"] == "moderator" and record["data"]["via"] == "cli"
    assert record["data"]["previous"] == "fan"
    assert uuid.UUID(record["subject"]) and record["actor"].startswith("cli:")
