"""Configuration from the environment (and an optional env file), validated at start."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

N = TypeVar("N", int, float)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Only the local nginx is trusted to name the client unless the operator says otherwise.
DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1/128"


class ConfigError(Exception):
    """A configuration variable is missing or malformed; the message names it."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines (comments and blank lines ignored, optional quotes stripped)."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"{path}:{lineno}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@dataclass(frozen=True)
class Config:
    """Validated settings; secrets are excluded from repr so they cannot leak into logs."""

    database_url: str | None = field(repr=False)
    redis_url: str | None
    host: str
    port: int
    public_url: str
    jwt_secret: str = field(repr=False)
    playback_secret: str = field(repr=False)
    hook_secret: str = field(repr=False)
    access_ttl: int = 900
    refresh_ttl: int = 30 * 24 * 3600
    playback_ttl: int = 600
    state_dir: Path = Path(".mhc-state")
    rtmp_port: int = 1935
    http_port: int = 8000
    hls_dir: Path = Path(".mhc-state/hls")
    # nginx-rtmp recordings (named after the event id), and the HLS VOD replays made from them.
    record_dir: Path = Path(".mhc-state/recordings")
    replay_dir: Path = Path(".mhc-state/replays")
    max_body_bytes: int = 64 * 1024
    login_max_failures_account: int = 5
    login_max_failures_ip: int = 20
    login_window: int = 900
    # Peers whose X-Forwarded-For / X-Real-IP are believed (nginx, a TLS terminator).
    trusted_proxies: tuple[Network, ...] = field(
        default_factory=lambda: parse_networks("MHC_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES)
    )
    register_per_hour_ip: int = 20
    password_hash_concurrency: int = 2
    # Anti-sharing: a MaxMind-format City database (off when unset), and what no traveller does.
    geoip_db: Path | None = None
    geo_max_miles: float = 1000.0
    geo_max_mph: float = 600.0
    # nginx's public HTTP and RTMP listeners: loopback unless the operator opens them.
    bind_address: str = "127.0.0.1"
    # Where nginx reaches the app, and the loopback port of nginx's heartbeat relay.
    nginx_app_host: str = "127.0.0.1"
    nginx_hook_port: int = 8081
    log_level: str = "INFO"
    dev: bool = False
    # The merged environment (file + process), where each package reads its own settings.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def rtmp_url(self) -> str:
        """The server URL an artist types into OBS."""
        host = self.public_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        return f"rtmp://{host}:{self.rtmp_port}/live"


def env_number(
    env: Mapping[str, str], name: str, default: N, low: N, high: N, kind: Callable[[str], N]
) -> N:
    """A number from `env` within [low, high], or `default` when unset; ConfigError names `name`."""
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def env_value(env: Mapping[str, str], name: str) -> str:
    """`name` from `env`, or the contents of the file `name_FILE` names (secrets)."""
    value = env.get(name, "").strip()
    file_name = env.get(f"{name}_FILE")
    if not value and file_name:
        try:
            value = Path(file_name).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE cannot be read: {exc.strerror}") from None
    return value


def parse_networks(name: str, raw: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (a bare address is a /32 or /128); ConfigError names `name`."""
    networks: list[Network] = []
    for item in raw.split(","):
        part = item.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not an address or CIDR") from None
    return tuple(networks)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    return env_number(env, name, default, minimum, 2**31 - 1, int)


def _secret(env: Mapping[str, str], name: str, dev: bool) -> str:
    value = env_value(env, name)
    if not value:
        if dev:
            # Dev stacks get a fresh random secret per process start; tokens just expire sooner.
            import secrets

            return secrets.token_urlsafe(32)
        raise ConfigError(f"{name} is required (or {name}_FILE naming a file that holds it)")
    if len(value) < 32:
        raise ConfigError(f"{name} must be at least 32 characters")
    return value


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name) or None
    if value is not None and not value.startswith(schemes):
        raise ConfigError(f"{name} must start with one of {', '.join(schemes)}")
    return value


def _geoip_db(env: Mapping[str, str]) -> Path | None:
    raw = env.get("MHC_GEOIP_DB", "").strip()
    if not raw:
        return None
    path = Path(raw).resolve()
    if not path.is_file():
        raise ConfigError(f"MHC_GEOIP_DB names {raw!r}, which is not a file")
    return path


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# `mhc up` writes the running local stack's settings here, under the state dir.
STACK_ENV_FILE = "env"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return env_number(env, name, default, 1, 65535, int)


def _address(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(f"{name} must be an IP address, got {value!r}") from None
    return value


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build a Config from `env` (default: os.environ plus MHC_ENV_FILE), or raise ConfigError.

    Without MHC_ENV_FILE, the process's settings are completed from the env file a running
    `mhc up` keeps in the state dir, so `mhc` commands beside a local stack find its secrets
    and services.
    """
    merged: dict[str, str] = {}
    source = dict(os.environ if env is None else env)
    env_file = source.get("MHC_ENV_FILE")
    if env_file:
        path = Path(env_file)
        if not path.is_file():
            raise ConfigError(f"MHC_ENV_FILE names {env_file!r}, which is not a file")
        merged.update(read_env_file(path))
    elif env is None:
        stack_env = Path(source.get("MHC_STATE_DIR") or ".mhc-state") / STACK_ENV_FILE
        if stack_env.is_file():
            merged.update(read_env_file(stack_env))
    merged.update(source)  # the real environment wins over the file

    dev = merged.get("MHC_DEV", "").lower() in {"1", "true", "yes"}
    port = _int(merged, "MHC_PORT", 8080)
    if port > 65535:
        raise ConfigError(f"MHC_PORT must be at most 65535, got {port}")
    host = merged.get("MHC_HOST", "127.0.0.1")
    state_dir = Path(merged.get("MHC_STATE_DIR", ".mhc-state")).resolve()
    http_port = _int(merged, "MHC_HTTP_PORT", 8000)
    public_url = merged.get("MHC_PUBLIC_URL", f"http://127.0.0.1:{http_port}").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError("MHC_PUBLIC_URL must start with http:// or https://")
    hls_dir = Path(merged.get("MHC_HLS_DIR", str(state_dir / "hls"))).resolve()
    log_level = (merged.get("MHC_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"MHC_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return Config(
        database_url=_url(merged, "DATABASE_URL", ("postgres://", "postgresql://")),
        redis_url=_url(merged, "REDIS_URL", ("redis://", "rediss://", "unix://")),
        host=host,
        port=port,
        public_url=public_url,
        jwt_secret=_secret(merged, "MHC_JWT_SECRET", dev),
        playback_secret=_secret(merged, "MHC_PLAYBACK_SECRET", dev),
        hook_secret=_secret(merged, "MHC_HOOK_SECRET", dev),
        access_ttl=_int(merged, "MHC_ACCESS_TTL", 900),
        refresh_ttl=_int(merged, "MHC_REFRESH_TTL", 30 * 24 * 3600),
        playback_ttl=_int(merged, "MHC_PLAYBACK_TTL", 600, minimum=10),
        state_dir=state_dir,
        rtmp_port=_int(merged, "MHC_RTMP_PORT", 1935),
        http_port=http_port,
        hls_dir=hls_dir,
        record_dir=Path(merged.get("MHC_RECORD_DIR") or state_dir / "recordings").resolve(),
        replay_dir=Path(merged.get("MHC_REPLAY_DIR") or state_dir / "replays").resolve(),
        max_body_bytes=_int(merged, "MHC_MAX_BODY_BYTES", 64 * 1024),
        login_max_failures_account=_int(merged, "MHC_LOGIN_MAX_FAILURES_ACCOUNT", 5),
        login_max_failures_ip=_int(merged, "MHC_LOGIN_MAX_FAILURES_IP", 20),
        login_window=_int(merged, "MHC_LOGIN_WINDOW", 900),
        trusted_proxies=parse_networks(
            "MHC_TRUSTED_PROXIES", merged.get("MHC_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES)
        ),
        register_per_hour_ip=_int(merged, "MHC_REGISTER_PER_HOUR_IP", 20),
        password_hash_concurrency=env_number(
            merged, "MHC_PASSWORD_HASH_CONCURRENCY", 2, 1, 64, int
        ),
        geoip_db=_geoip_db(merged),
        geo_max_miles=env_number(merged, "MHC_GEO_MAX_MILES", 1000.0, 1.0, 25_000.0, float),
        geo_max_mph=env_number(merged, "MHC_GEO_MAX_MPH", 600.0, 1.0, 100_000.0, float),
        bind_address=_address(merged, "MHC_BIND_ADDRESS", "127.0.0.1"),
        nginx_app_host=merged.get("MHC_NGINX_APP_HOST", "").strip() or "127.0.0.1",
        nginx_hook_port=_port(merged, "MHC_NGINX_HOOK_PORT", 8081),
        log_level=log_level,
        dev=dev,
        env=merged,
    )
