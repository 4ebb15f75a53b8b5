"""What every `mhc` subcommand needs before it works: the settings, and the services they name.

The core CLI and each package's subcommands (`mhc forensics …`) share these, so a package's
CLI needs nothing from `server/cli.py`.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from server.config import Config, ConfigError, load_config


def config_or_exit() -> Config:
    """Load the configuration, or print what is wrong and exit 2."""
    try:
        return load_config()
    except ConfigError as exc:
        fail(f"configuration error: {exc}")


def require_services(cfg: Config, *, redis: bool = True) -> None:
    """Exit 2 naming DATABASE_URL (and REDIS_URL, when asked) if unset."""
    wanted = [("DATABASE_URL", cfg.database_url)] + (
        [("REDIS_URL", cfg.redis_url)] if redis else []
    )
    missing = [name for name, value in wanted if not value]
    if missing:
        fail(f"configuration error: {' and '.join(missing)} must be set (or use `mhc up`)")


def fail(message: str) -> NoReturn:
    """Print a message for the operator and exit 2 (a usage or set-up error)."""
    print(message, file=sys.stderr)
    raise SystemExit(2)
