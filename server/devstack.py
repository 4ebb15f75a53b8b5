"""`mhc up`: private services when none are configured, nginx, the app, and a demo event."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import uuid
from pathlib import Path

from aiohttp import web

from server import localstack
from server.app import create_app
from server.config import STACK_ENV_FILE, Config
from server.nginx_config import layout_for, prepare_dirs, render

DEMO_EMAIL = "demo-artist@mhc.local"


async def _seed_demo(app: web.Application, state_dir: Path) -> tuple[str, str]:
    """A demo artist and free event; a fresh stream key every start, since keys are shown once."""
    from datetime import timedelta

    from server.accounts import store as accounts
    from server.accounts.passwords import hash_password
    from server.accounts.tokens import Principal
    from server.keys import CLOCK, DB
    from server.live import service as live

    marker = state_dir / "demo-event"
    async with app[DB].acquire() as conn:
        artist = await accounts.user_with_hash(conn, DEMO_EMAIL)
        if artist is None:
            password = state_dir / "demo-password"
            password.write_text(uuid.uuid4().hex)
            password.chmod(0o600)
            artist = await accounts.insert_user(
                conn,
                uuid.uuid4(),
                DEMO_EMAIL,
                await hash_password(password.read_text()),
                "Demo Artist",
                "artist",
            )
        assert artist is not None
        event = (
            await live.find_event(conn, uuid.UUID(marker.read_text())) if marker.exists() else None
        )
    principal = Principal(artist["id"], "artist", "cli", 0)
    if event is None or not event.is_open:
        created = await live.create(
            app,
            principal,
            {
                "title": "Demo live show",
                "description": "Local test stream",
                "starts_at": app[CLOCK].now() + timedelta(minutes=5),
                "price_minor": 0,
                "currency": "EUR",
                "capacity": None,
                "replay_access": False,
            },
        )
        marker.write_text(created["id"])
        return created["id"], created["stream_key"]
    rotated = await live.rotate_key(app, principal, event.id)
    return str(event.id), rotated["stream_key"]


def write_stack_env(cfg: Config) -> Path:
    """The running stack's settings, private services included, for `mhc` commands beside it."""
    values = {
        k: v
        for k, v in cfg.env.items()
        if k.startswith(("MHC_", "STRIPE_")) and k != "MHC_ENV_FILE" and "\n" not in v
    }
    values.update(
        {
            "DATABASE_URL": cfg.database_url or "",
            "REDIS_URL": cfg.redis_url or "",
            "MHC_JWT_SECRET": cfg.jwt_secret,
            "MHC_PLAYBACK_SECRET": cfg.playback_secret,
            "MHC_HOOK_SECRET": cfg.hook_secret,
            "MHC_STATE_DIR": str(cfg.state_dir),
            "MHC_PORT": str(cfg.port),
            "MHC_HTTP_PORT": str(cfg.http_port),
            "MHC_RTMP_PORT": str(cfg.rtmp_port),
            "MHC_PUBLIC_URL": cfg.public_url,
        }
    )
    path = cfg.state_dir / STACK_ENV_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(
        "# Written by `mhc up` while it runs; `mhc` reads it when no MHC_ENV_FILE is set.\n"
        + "".join(f"{k}={v}\n" for k, v in sorted(values.items()))
    )
    tmp.replace(path)
    return path


async def _run(cfg: Config) -> None:
    services: list[localstack.Service] = []
    state = cfg.state_dir
    try:
        if cfg.database_url is None:
            pg, dsn = localstack.start_postgres(state / "postgres")
            services.append(pg)
            cfg = dataclasses.replace(cfg, database_url=dsn)
        if cfg.redis_url is None:
            rd, url = localstack.start_redis(state / "redis")
            services.append(rd)
            cfg = dataclasses.replace(cfg, redis_url=url)
        app = create_app(cfg)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", cfg.port)
        await site.start()
        layout = layout_for(cfg, state / "nginx")
        prepare_dirs(cfg, layout)
        conf = layout.state_dir / "nginx.conf"
        conf.write_text(render(cfg, layout))
        services.append(localstack.start_nginx(conf, cfg.http_port))
        event_id, key = await _seed_demo(app, state)
        stack_env = write_stack_env(cfg)
        demo_password = (state / "demo-password").read_text().strip()
        print(
            f"""
MHC Live is up.
  Web + API:        {cfg.public_url}/   (OpenAPI: {cfg.public_url}/api/openapi.json)
  OBS Server:       {cfg.rtmp_url}
  OBS Stream Key:   {key}
                    (demo event {event_id}; each artist's key comes from POST /api/live/create)
  Watch:            POST {cfg.public_url}/api/live/{event_id}/playback with a login,
                    then open the returned /play/<token>/{event_id}/index.m3u8
  Test stream:      ffmpeg -re -f lavfi -i testsrc=size=640x360:rate=25 -f lavfi -i sine \\
                      -c:v libx264 -preset veryfast -g 50 -c:a aac -f flv {cfg.rtmp_url}/{key}
  Demo artist:      log in as {DEMO_EMAIL} with password {demo_password}
  Make an admin:    ./dev mhc user create --email you@example.com --role admin
                    (in this checkout while this runs: `mhc` reads {stack_env})
  State:            {state}
Ctrl-C stops everything.""",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()
    finally:
        (state / STACK_ENV_FILE).unlink(missing_ok=True)
        for service in reversed(services):
            service.stop()


def run_stack(cfg: Config) -> int:
    """Run until interrupted."""
    asyncio.run(_run(cfg))
    return 0
