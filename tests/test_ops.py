"""Operator surface: health, readiness, metrics, OpenAPI, config validation, migrations."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from server import db
from server.config import ConfigError, load_config
from tests.conftest import Api
from tests.services import Services

SECRETS = {n: "s" * 32 for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")}


async def test_health_ready_metrics(api: Api) -> None:
    assert (await api.call("GET", "/healthz"))[0] == 200
    status, body = await api.call("GET", "/readyz")
    assert status == 200 and body["checks"] == {"database": "ok", "redis": "ok"}
    await api.call("POST", "/api/auth/login", json={"email": "x@y.zz", "password": "nope-nope"})
    status, text = await api.call("GET", "/metrics")
    assert status == 200
    assert 'mhc_http_request_seconds_count{method="POST",route="auth_login",status="401"}' in text
    assert 'mhc_auth_decisions_total{decision="denied",kind="login"}' in text


async def test_openapi_lists_every_api_route(api: Api) -> None:
    status, doc = await api.call("GET", "/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    for path, method in (
        ("/api/auth/login", "post"),
        ("/api/live/create", "post"),
        ("/api/live/{id}/playback", "post"),
        ("/api/live/{id}", "patch"),
    ):
        assert method in doc["paths"][path], path
        assert doc["paths"][path][method]["summary"]


async def test_unknown_route_and_method_are_json_errors(api: Api) -> None:
    status, body = await api.call("GET", "/api/nope")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await api.call("DELETE", "/api/auth/login")
    assert status == 405 and body["error"]["code"]


@pytest.mark.parametrize(
    "env,needle",
    [
        ({"MHC_PORT": "eighty"}, "MHC_PORT"),
        ({"MHC_PORT": "70000"}, "MHC_PORT"),
        ({"MHC_JWT_SECRET": "short"}, "MHC_JWT_SECRET"),
        ({"MHC_JWT_SECRET": ""}, "MHC_JWT_SECRET"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"MHC_PLAYBACK_TTL": "0"}, "MHC_PLAYBACK_TTL"),
        ({"MHC_PUBLIC_URL": "ftp://x"}, "MHC_PUBLIC_URL"),
        ({"MHC_ENV_FILE": "/nonexistent/file"}, "MHC_ENV_FILE"),
    ],
)
def test_config_errors_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config({**SECRETS, **env})


def test_config_env_file_and_secret_files(tmp_path: Path) -> None:
    secret = tmp_path / "jwt"
    secret.write_text("j" * 40 + "\n")
    env_file = tmp_path / "mhc.env"
    env_file.write_text(
        "# comment\nexport MHC_PORT=9001\nMHC_PUBLIC_URL='https://live.example'\n"
        f"MHC_JWT_SECRET_FILE={secret}\n"
    )
    cfg = load_config(
        {**SECRETS, "MHC_JWT_SECRET": "", "MHC_ENV_FILE": str(env_file), "MHC_PORT": "9002"}
    )
    assert cfg.port == 9002 and cfg.public_url == "https://live.example"
    assert cfg.jwt_secret == "j" * 40
    assert "j" * 40 not in repr(cfg) and "s" * 32 not in repr(cfg)
    assert cfg.rtmp_url == "rtmp://live.example:1935/live"


async def test_migrations_are_idempotent_and_concurrent(services: Services) -> None:
    import asyncio

    admin = await asyncpg.connect(services.database_url)
    name = "mhc_migrate_check"
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    dsn = services.database_url.rsplit("/", 1)[0] + "/" + name
    conns = [await asyncpg.connect(dsn) for _ in range(3)]
    results = await asyncio.gather(*(db.migrate(c) for c in conns))
    applied = [r for r in results if r]
    assert len(applied) == 1 and applied[0][0] == "server/0001_accounts.sql"
    assert await db.migrate(conns[0]) == []
    for c in conns:
        await c.close()


async def test_browser_client_is_served(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MHC_WEB_DIR", str(tmp_path / "missing"))
    status, html = await api.call("GET", "/")
    assert status == 200 and "not built" in html
    build = tmp_path / "dist"
    (build / "_expo" / "static" / "js").mkdir(parents=True)
    (build / "index.html").write_text('<script src="/_expo/static/js/entry.js"></script>')
    (build / "_expo" / "static" / "js" / "entry.js").write_text("/* app */")
    (tmp_path / "secret.txt").write_text("outside")
    monkeypatch.setenv("MHC_WEB_DIR", str(build))
    for path in ("/", "/feed", "/event/123", "/watch/abc"):
        status, html = await api.call("GET", path)
        assert status == 200 and "/_expo/static/js/entry.js" in html, path
    status, js = await api.call("GET", "/_expo/static/js/entry.js")
    assert status == 200 and js == "/* app */"
    for path in ("/_expo/../../secret.txt", "/_expo/%2e%2e/%2e%2e/secret.txt", "/_expo/nope.js"):
        status, _ = await api.call("GET", path)
        assert status in (403, 404), path
