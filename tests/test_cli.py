"""The `mhc` command as operators use it: nginx-config, migrate, user, config errors."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.services import Services

SECRETS = {n: "s" * 40 for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")}


def mhc(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # A fresh working directory, so no local stack's `.mhc-state/env` is picked up.
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
        cwd=cwd or tempfile.mkdtemp(prefix="mhc-cli-"),
    )


def test_nginx_config_renders_a_valid_config(tmp_path: Path) -> None:
    out = tmp_path / "nginx.conf"
    done = mhc(
        "nginx-config",
        "--out",
        str(out),
        "--state-dir",
        str(tmp_path / "ngx"),
        MHC_STATE_DIR=str(tmp_path),
        MHC_PORT="8181",
        **SECRETS,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "auth_request /_playgate;" in text and "127.0.0.1:8181" in text
    assert "${" not in text and "s" * 40 in text  # the hook secret sits only in nginx's own file
    check = subprocess.run(["nginx", "-t", "-c", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_config_error_is_clear_and_exit_2(tmp_path: Path) -> None:
    done = mhc("migrate", MHC_JWT_SECRET="short")
    assert done.returncode == 2 and "MHC_JWT_SECRET" in done.stderr
    done = mhc("serve", **SECRETS)
    assert done.returncode == 2 and "DATABASE_URL" in done.stderr
    assert "s" * 40 not in done.stderr + done.stdout


def test_migrate_and_user_commands(services: Services) -> None:
    env = {**SECRETS, "DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url}
    assert mhc("migrate", **env).returncode == 0
    done = mhc("migrate", **env)
    assert done.returncode == 0 and "up to date" in done.stdout, done.stderr
    done = mhc("user", "create", "--email", "ops-admin@example.test", "--role", "admin", **env)
    assert done.returncode == 0 and "role=admin password=" in done.stdout, done.stderr
    done = mhc(
        "user", "set-role", "--email", "ops-admin@example.test", "--role", "moderator", **env
    )
    assert done.returncode == 0 and "now moderator" in done.stdout
    done = mhc("user", "create", "--email", "ops-admin@example.test", **env)
    assert done.returncode != 0 and "exists" in done.stderr


def test_nginx_and_log_settings_come_from_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "mhc.env"
    env_file.write_text(
        "MHC_NGINX_APP_HOST=app.internal\nMHC_BIND_ADDRESS=0.0.0.0\nMHC_LOG_LEVEL=debug\n"
    )
    out = tmp_path / "nginx.conf"
    done = mhc(
        "nginx-config",
        "--out",
        str(out),
        MHC_ENV_FILE=str(env_file),
        MHC_STATE_DIR=str(tmp_path),
        **SECRETS,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "server app.internal:8080;" in text
    assert "listen 0.0.0.0:8000;" in text and "listen 0.0.0.0:1935;" in text
    env_file.write_text("MHC_LOG_LEVEL=chatty\n")
    done = mhc("nginx-config", MHC_ENV_FILE=str(env_file), **SECRETS)
    assert done.returncode == 2 and "MHC_LOG_LEVEL" in done.stderr
    # The level read from the file is the one the command logs at.
    from server import cli

    env_file.write_text("MHC_LOG_LEVEL=debug\n")
    for name, value in {
        **SECRETS,
        "MHC_ENV_FILE": str(env_file),
        "MHC_STATE_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MHC_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    before = root.level
    try:
        assert cli.main(["nginx-config", "--out", str(out)]) == 0
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(before)


def test_public_listeners_bind_loopback_unless_configured(tmp_path: Path) -> None:
    out = tmp_path / "nginx.conf"
    done = mhc("nginx-config", "--out", str(out), MHC_STATE_DIR=str(tmp_path), **SECRETS)
    assert done.returncode == 0, done.stderr
    listens = re.findall(r"^\s*listen (\S+);", out.read_text(), re.MULTILINE)
    assert listens and all(a.startswith("127.0.0.1:") for a in listens), listens
    done = mhc(
        "nginx-config",
        "--out",
        str(out),
        MHC_STATE_DIR=str(tmp_path),
        MHC_BIND_ADDRESS="192.0.2.10",
        **SECRETS,
    )
    assert done.returncode == 0, done.stderr
    listens = re.findall(r"^\s*listen (\S+);", out.read_text(), re.MULTILINE)
    # The HLS relay pushes over loopback, so RTMP keeps a loopback listener too.
    assert {"192.0.2.10:8000", "192.0.2.10:1935", "127.0.0.1:1935"} <= set(listens), listens
    done = mhc("nginx-config", MHC_BIND_ADDRESS="everywhere", **SECRETS)
    assert done.returncode == 2 and "MHC_BIND_ADDRESS" in done.stderr


async def test_a_command_does_not_wait_on_another_process_mid_append(services: Services) -> None:
    """A peer that stopped inside its append transaction (a paused or partitioned process)
    holds the forensic append lock; starting the app for a command must not wait on it."""
    import asyncio

    import asyncpg

    from forensics.store import APPEND_LOCK

    env = {**SECRETS, "DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url}
    assert (await asyncio.to_thread(mhc, "migrate", **env)).returncode == 0
    email = f"held-{os.getpid()}-{id(env)}@example.test"
    created = await asyncio.to_thread(mhc, "user", "create", "--email", email, **env)
    assert created.returncode == 0, created.stderr
    peer = await asyncpg.connect(services.database_url)
    try:
        async with peer.transaction():
            await peer.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
            done = await asyncio.to_thread(
                mhc, "user", "set-role", "--email", email, "--role", "artist", **env
            )
    finally:
        await peer.close()
    assert done.returncode == 0 and "now artist" in done.stdout, done.stderr
