"""The `mhc` command: serve, migrate, nginx-config, up, user."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from aiohttp import web

from server.accounts.tokens import ROLES
from server.clitools import command_app, config_or_exit, require_services
from server.config import Config


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the app in the foreground."""
    from server.app import create_app

    cfg = config_or_exit()
    require_services(cfg)
    web.run_app(create_app(cfg), host=cfg.host, port=args.port or cfg.port, access_log=None)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations."""
    import asyncpg

    from server import db

    cfg = config_or_exit()
    require_services(cfg)

    async def run() -> list[str]:
        conn = await asyncpg.connect(cfg.database_url)
        try:
            return await db.migrate(conn)
        finally:
            await conn.close()

    applied = asyncio.run(run())
    print("\n".join(applied) if applied else "database is up to date")
    return 0


def cmd_nginx_config(args: argparse.Namespace) -> int:
    """Print (or write) the nginx.conf for this configuration and create the dirs it names."""
    from server.nginx_config import layout_for, prepare_dirs, render

    cfg = config_or_exit()
    layout = layout_for(cfg, Path(args.state_dir or cfg.state_dir / "nginx").resolve())
    text = render(cfg, layout)
    prepare_dirs(cfg, layout)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


SYSTEM_PACKAGES = {
    "nginx": "nginx",
    "/usr/lib/nginx/modules/ngx_rtmp_module.so": "libnginx-mod-rtmp",
    "ffmpeg": "ffmpeg",
}


def ensure_system_packages(need_postgres: bool, need_redis: bool) -> None:
    """apt-get install whatever the local stack lacks (as root), or say what to install."""
    wanted = dict(SYSTEM_PACKAGES)
    if need_postgres:
        wanted["/usr/lib/postgresql"] = "postgresql"
    if need_redis:
        wanted["redis-server"] = "redis-server"
    missing = sorted(
        {
            pkg
            for probe, pkg in wanted.items()
            if not (Path(probe).exists() if probe.startswith("/") else shutil.which(probe))
        }
    )
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing system packages: sudo apt-get install {' '.join(missing)}")
    print(f"installing {' '.join(missing)} ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def _dev_env_file(state_dir: Path) -> Path:
    """Secrets for the dev stack, generated once so tokens survive restarts."""
    path = state_dir / "dev.env"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{name}={secrets.token_urlsafe(32)}"
            for name in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")
        ]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    return path


def cmd_up(args: argparse.Namespace) -> int:
    """Start the whole local stack and say how to stream and watch."""
    from server.devstack import run_stack

    state_dir = Path(os.environ.get("MHC_STATE_DIR", ".mhc-state")).resolve()
    os.environ.setdefault("MHC_STATE_DIR", str(state_dir))
    os.environ.setdefault("MHC_ENV_FILE", str(_dev_env_file(state_dir)))
    cfg = config_or_exit()
    ensure_system_packages(cfg.database_url is None, cfg.redis_url is None)
    cfg = dataclasses.replace(cfg, dev=True)
    return run_stack(cfg)


def cmd_user(args: argparse.Namespace) -> int:
    """Create an account with any role, or change a role (operators bootstrap admins here)."""
    import asyncpg

    from server.accounts import store
    from server.accounts.passwords import hash_password

    cfg = config_or_exit()
    require_services(cfg)

    async def run() -> str:
        conn = await asyncpg.connect(cfg.database_url)
        try:
            if args.user_cmd == "create":
                import uuid

                password = args.password or secrets.token_urlsafe(12)
                row = await store.insert_user(
                    conn,
                    uuid.uuid4(),
                    args.email,
                    await hash_password(password),
                    args.name or args.email.split("@")[0],
                    args.role,
                )
                if row is None:
                    raise SystemExit("an account with this email exists")
                shown = "" if args.password else f" password={password}"
                return f"created {row['id']} {args.email} role={args.role}{shown}"
            found = await store.user_with_hash(conn, args.email)
            if found is None:
                raise SystemExit("no such user")
        finally:
            await conn.close()
        await _change_role(cfg, found["id"], args.role)
        return f"{args.email} is now {args.role}"

    print(asyncio.run(run()))
    return 0


async def _change_role(cfg: Config, user_id: uuid.UUID, role: str) -> None:
    """Through the same service as the admin API: live tokens stop, the log records it."""
    import getpass

    from server.accounts import service

    async with command_app(cfg) as app:
        # The forensic record names the operator account that ran the command.
        await service.change_role(app, user_id, role, f"cli:{getpass.getuser()}", "cli")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `mhc`."""
    parser = argparse.ArgumentParser(prog="mhc", description="MHC Live")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the app (needs DATABASE_URL and REDIS_URL)")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    ngx = sub.add_parser("nginx-config", help="render nginx.conf")
    ngx.add_argument("--out")
    ngx.add_argument("--state-dir")
    ngx.set_defaults(func=cmd_nginx_config)
    sub.add_parser("up", help="start the whole local stack").set_defaults(func=cmd_up)
    user = sub.add_parser("user", help="manage accounts")
    user_sub = user.add_subparsers(dest="user_cmd", required=True)
    create = user_sub.add_parser("create")
    create.add_argument("--email", required=True)
    create.add_argument("--role", choices=ROLES, default="fan")
    create.add_argument("--password")
    create.add_argument("--name")
    role = user_sub.add_parser("set-role")
    role.add_argument("--email", required=True)
    role.add_argument("--role", choices=ROLES, required=True)
    user.set_defaults(func=cmd_user)
    from distribution.cli import add_parser as add_distribution
    from distribution.delivery_cli import add_parser as add_deliveries
    from forensics.cli import add_parser as add_forensics
    from ledger.cli import add_parser as add_ledger
    from server.jobs.cli import add_parser as add_jobs

    add_deliveries(sub)
    add_forensics(sub)
    add_jobs(sub)
    add_ledger(sub)
    add_distribution(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mhc` console script."""
    # Each command's settings (MHC_LOG_LEVEL among them) are applied once it loads them.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
