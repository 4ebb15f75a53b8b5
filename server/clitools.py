"""What every `mhc` subcommand needs before it works: the settings, and the services they name.

The core CLI and each package's subcommands (`mhc forensics …`) share these, so a package's
CLI needs nothing from `server/cli.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

from aiohttp import web

from server.config import STACK_ENV_FILE, Config, ConfigError, load_config


def config_or_exit() -> Config:
    """Load the configuration, or print what is wrong and exit 2."""
    try:
        cfg = load_config()
    except ConfigError as exc:
        fail(f"configuration error: {exc}", hint=True)
    logging.getLogger().setLevel(cfg.log_level)
    return cfg


def require_services(cfg: Config, *, redis: bool = True) -> None:
    """Exit 2 naming DATABASE_URL (and REDIS_URL, when asked) if unset."""
    wanted = [("DATABASE_URL", cfg.database_url)] + (
        [("REDIS_URL", cfg.redis_url)] if redis else []
    )
    missing = [name for name, value in wanted if not value]
    if missing:
        fail(
            f"configuration error: {' and '.join(missing)} must be set (or use `mhc up`)",
            hint=True,
        )


def _local_stack_hint() -> str | None:
    """Where a running `mhc up` would have left its settings, when it has not."""
    if os.environ.get("MHC_ENV_FILE"):
        return None
    state = Path(os.environ.get("MHC_STATE_DIR") or ".mhc-state").resolve()
    if (state / STACK_ENV_FILE).is_file():
        return None
    return (
        f"(no running `mhc up` found: {state / STACK_ENV_FILE} does not exist; start "
        "`./dev up` in this directory, or give the settings)"
    )


def fail(message: str, *, hint: bool = False) -> NoReturn:
    """Print a message for the operator and exit 2 (a usage or set-up error)."""
    print(message, file=sys.stderr)
    extra = _local_stack_hint() if hint else None
    if extra:
        print(extra, file=sys.stderr)
    raise SystemExit(2)


# A command's app shuts down in well under a second; past this, its work is done and
# committed, so a stuck listener must not hold the operator's shell.
COMMAND_CLEANUP_SECONDS = 15.0


@asynccontextmanager
async def command_app(cfg: Config) -> AsyncIterator[web.Application]:
    """The app, started for one command: no job worker and no forensic scheduler (the
    servers run those), and a shutdown that cannot hang the command."""
    from server.app import create_app

    cfg = dataclasses.replace(
        cfg, env={**cfg.env, "MHC_JOBS_WORKER": "off", "MHC_FORENSIC_SCHEDULER": "off"}
    )
    runner = web.AppRunner(create_app(cfg))
    await runner.setup()
    try:
        yield runner.app
    finally:
        try:
            await asyncio.wait_for(runner.cleanup(), COMMAND_CLEANUP_SECONDS)
        except TimeoutError:
            logging.getLogger(__name__).warning(
                "the app did not shut down within %.0f s; its work was already done",
                COMMAND_CLEANUP_SECONDS,
            )
