"""Settings of feeds, engagement and comments, from the environment (and MHC_ENV_FILE)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from server.config import Config, ConfigError, env_number, env_value


@dataclass(frozen=True)
class EngageConfig:
    """Validated settings; the cursor key stays out of repr."""

    cursor_key: bytes = field(repr=False)
    view_window_s: int = 30 * 60
    max_watch_report_s: int = 6 * 3600
    comment_burst: int = 5
    comment_per_minute: int = 20
    discovery_days: int = 90


def load(core: Config, env: Mapping[str, str] | None = None) -> EngageConfig:
    """The settings from the core's merged environment (or `env`), or ConfigError naming one."""
    e = dict(core.env if env is None else env)
    return EngageConfig(
        cursor_key=_cursor_key(e, core),
        view_window_s=env_number(e, "MHC_VIEW_WINDOW_MINUTES", 30, 1, 24 * 60, int) * 60,
        max_watch_report_s=env_number(e, "MHC_WATCH_REPORT_MAX_SECONDS", 21600, 1, 86400, int),
        comment_burst=env_number(e, "MHC_COMMENT_BURST", 5, 1, 1000, int),
        comment_per_minute=env_number(e, "MHC_COMMENT_PER_MINUTE", 20, 1, 6000, int),
        discovery_days=env_number(e, "MHC_DISCOVERY_DAYS", 90, 1, 3650, int),
    )


def _cursor_key(env: Mapping[str, str], core: Config) -> bytes:
    value = env_value(env, "MHC_FEED_CURSOR_SECRET")
    if value:
        if len(value) < 32:
            raise ConfigError("MHC_FEED_CURSOR_SECRET must be at least 32 characters")
        return hashlib.sha256(value.encode()).digest()
    # Derived one-way from the JWT secret, so cursors survive restarts and span processes.
    return hmac.new(core.jwt_secret.encode(), b"mhc-feed-cursor-v1", hashlib.sha256).digest()


ENGAGE_CONFIG = web.AppKey("engage_config", EngageConfig)
