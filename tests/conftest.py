"""Fixtures: real services, the real app on a real port, and API helpers."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from server.app import create_app
from server.clock import Clock
from server.config import Config, load_config
from server.keys import CONFIG
from server.localstack import free_port, start_nginx
from server.nginx_config import NginxLayout, default_worker_user, prepare_dirs, render
from tests.services import Services, test_services


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """PostgreSQL and Redis for the whole session."""
    with test_services() as found:
        yield found


# The reference data shared by the checkouts (DDEX schemas, test vectors).
SHARED_DIR = Path(
    os.environ.get("MHC_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
)


def make_config(services: Services, **env: str) -> Config:
    """A config as an operator would give it, pointing at the test services."""
    base = {
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "MHC_JWT_SECRET": secrets.token_urlsafe(32),
        "MHC_PLAYBACK_SECRET": secrets.token_urlsafe(32),
        "MHC_HOOK_SECRET": secrets.token_urlsafe(32),
        "MHC_STATE_DIR": str(services.work_dir / "state"),
        "MHC_LOGIN_MAX_FAILURES_IP": "1000",
        # Every test registers from loopback; the per-address limit has its own tests.
        "MHC_REGISTER_PER_HOUR_IP": "100000",
        # Every chat action re-checks its token, so revocation tests need no waiting.
        "MHC_CHAT_REVALIDATE_SECONDS": "0",
        "MHC_DISTRIBUTION_SCHEMA_DIR": str(SHARED_DIR / "ddex" / "ern43"),
        "PATH": os.environ.get("PATH", ""),
    }
    base.update(env)
    return load_config(base)


class Api:
    """A thin client of the running app that speaks its JSON API."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, app: web.Application) -> None:
        self.session = session
        self.base_url = base_url
        self.app = app

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; returns (status, decoded JSON or text)."""
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.base_url + path, json=json, data=data, headers=hdrs
        ) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def register(
        self, role: str = "fan", display_name: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A new account with a unique email; returns the session reply (+ password)."""
        email = f"{role}-{uuid.uuid4().hex[:10]}@example.test"
        password = secrets.token_urlsafe(12)
        account = {"email": email, "password": password, "role": role}
        if display_name is not None:
            account["display_name"] = display_name
        status, body = await self.call("POST", "/api/auth/register", json=account)
        assert status == 201, body
        return {**body, "email": email, "password": password, **extra}

    async def create_event(self, artist_token: str, **fields: Any) -> dict[str, Any]:
        """A scheduled event; returns the reply with its stream key."""
        body = {
            "title": "Show",
            "starts_at": "2030-01-01T20:00:00Z",
            "price": 0,
            "currency": "EUR",
            **fields,
        }
        status, event = await self.call("POST", "/api/live/create", token=artist_token, json=body)
        assert status == 201, event
        return event  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
async def app_server(services: Services) -> AsyncIterator[tuple[web.Application, str]]:
    """The app, started on a loopback port, for the whole session."""
    port = free_port()
    cfg = make_config(services, MHC_PORT=str(port))
    app = create_app(cfg, Clock())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield app, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@dataclass(frozen=True)
class Nginx:
    """A real nginx with the rendered config, in front of the session app."""

    http_url: str
    rtmp_url: str
    hls_dir: Path
    record_dir: Path
    cache_seconds: int


@pytest.fixture(scope="session")
def nginx(app_server: tuple[web.Application, str], services: Services) -> Iterator[Nginx]:
    """nginx-rtmp + the HLS gate, started once per session for the tests that need it."""
    app, _url = app_server
    cfg = app[CONFIG]
    http_port, rtmp_port = free_port(), free_port()
    layout = NginxLayout(
        state_dir=services.work_dir / "nginx",
        rtmp_listen=f"127.0.0.1:{rtmp_port}",
        http_listen=f"127.0.0.1:{http_port}",
        app_host="127.0.0.1",
        app_port=cfg.port,
        hook_port=free_port(),
        record_dir=cfg.record_dir,
        gate_cache_seconds=2,
        worker_user=default_worker_user(),
    )
    prepare_dirs(cfg, layout)
    conf = layout.state_dir / "nginx.conf"
    conf.write_text(render(cfg, layout))
    proc = start_nginx(conf, http_port)
    try:
        yield Nginx(
            f"http://127.0.0.1:{http_port}",
            f"rtmp://127.0.0.1:{rtmp_port}/live",
            cfg.hls_dir,
            layout.record_dir or Path(),
            layout.gate_cache_seconds,
        )
    finally:
        proc.stop()


@pytest.fixture
async def api(app_server: tuple[web.Application, str]) -> AsyncIterator[Api]:
    """An HTTP client of the running app."""
    app, url = app_server
    async with aiohttp.ClientSession() as session:
        yield Api(session, url, app)


@pytest.fixture
def clock(app_server: tuple[web.Application, str]) -> Iterator[Clock]:
    """The app's clock; any advance is undone after the test."""
    from server.keys import CLOCK

    clk = app_server[0][CLOCK]
    before = clk._offset
    yield clk
    clk._frozen = None
    clk._offset = before


@pytest.fixture
async def redis(services: Services) -> AsyncIterator[Redis]:
    """A Redis client of the test Redis."""
    client: Redis = Redis.from_url(services.redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def login(api: Api, email: str, password: str) -> dict[str, Any]:
    """Log in through the API."""
    status, body = await api.call(
        "POST", "/api/auth/login", json={"email": email, "password": password}
    )
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def admin_token(api: Api) -> str:
    """An admin's access token; the first admin is bootstrapped in the database, as `mhc user` does."""
    from server.accounts import store
    from server.keys import DB

    admin = await api.register("fan")
    async with api.app[DB].acquire() as conn:
        await store.set_role(conn, uuid.UUID(admin["user"]["id"]), "admin")
    return (await login(api, admin["email"], admin["password"]))["access"]  # type: ignore[no-any-return]


async def promote(api: Api, user: dict[str, Any], role: str) -> str:
    """Give an account a role through the admin API; returns its fresh access token."""
    status, body = await api.call(
        "POST",
        f"/api/admin/users/{user['user']['id']}/role",
        token=await admin_token(api),
        json={"role": role},
    )
    assert status == 200, body
    return (await login(api, user["email"], user["password"]))["access"]  # type: ignore[no-any-return]
