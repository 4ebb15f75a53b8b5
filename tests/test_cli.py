"""The `mhc` command as operators use it: nginx-config, migrate, user, config errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.services import Services

SECRETS = {n: "s" * 40 for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")}


def mhc(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True,
                          text=True, env={**base, **env}, timeout=60)


def test_nginx_config_renders_a_valid_config(tmp_path: Path) -> None:
    out = tmp_path / "nginx.conf"
    done = mhc("nginx-config", "--out", str(out), "--state-dir", str(tmp_path / "ngx"),
               MHC_STATE_DIR=str(tmp_path), MHC_PORT="8181", **SECRETS)
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
    done = mhc("user", "set-role", "--email", "ops-admin@example.test", "--role", "moderator", **env)
    assert done.returncode == 0 and "now moderator" in done.stdout
    done = mhc("user", "create", "--email", "ops-admin@example.test", **env)
    assert done.returncode != 0 and "exists" in done.stderr
