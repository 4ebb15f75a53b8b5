"""What every `mhc` subcommand needs before it works: the settings, and the services they name.

The core CLI and each package's subcommands (`mhc forensics …`) share these, so a package's
CLI needs nothing from `server/cli.py`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

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
