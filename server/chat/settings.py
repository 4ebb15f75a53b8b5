"""Chat tunables from the environment (MHC_CHAT_*), validated when the app is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.config import Config, ConfigError, env_number
from server.ratelimit import RateLimit


@dataclass(frozen=True)
class ChatSettings:
    """Limits and intervals of the chat; the payload cap is the server's MHC_MAX_BODY_BYTES."""

    max_payload_bytes: int
    rate_burst: int = 3
    rate_window: float = 2.0
    flush_interval: float = 0.1
    flush_batch: int = 500
    presence_interval: float = 5.0
    # How long a connection may act on a token before it is checked again for logout or a
    # role change (connect always checks); bounds a revoked token's reach over a live socket.
    revalidate_interval: float = 5.0
    channel: str = "mhc:chat:sio"
    cors_origins: tuple[str, ...] | str = ()

    @property
    def message_limit(self) -> RateLimit:
        """The per-user message bucket: `rate_burst` messages per `rate_window` seconds."""
        return RateLimit("chat_message", self.rate_burst, self.rate_burst / self.rate_window)

    @property
    def presence_ttl(self) -> float:
        """A process that missed this many seconds of heartbeats counts as gone."""
        return self.presence_interval * 3


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return env_number(env, name, default, low, high, float)


def load_settings(config: Config) -> ChatSettings:
    """Chat settings from the config's merged environment (MHC_CHAT_* variables)."""
    values = config.env
    origins_raw = values.get("MHC_CHAT_CORS_ORIGINS", "").strip()
    origins: tuple[str, ...] | str
    if origins_raw == "*":
        origins = "*"
    elif origins_raw:
        origins = tuple(o.strip().rstrip("/") for o in origins_raw.split(",") if o.strip())
    else:
        # Browsers load the web client from the public URL; native apps send no Origin.
        origins = (config.public_url,)
    channel = values.get("MHC_CHAT_CHANNEL", "mhc:chat:sio").strip()
    if not channel:
        raise ConfigError("MHC_CHAT_CHANNEL must not be empty")
    return ChatSettings(
        max_payload_bytes=config.max_body_bytes,
        rate_burst=int(_float(values, "MHC_CHAT_RATE_BURST", 3, 1, 1000)),
        rate_window=_float(values, "MHC_CHAT_RATE_WINDOW", 2.0, 0.1, 3600),
        flush_interval=_float(values, "MHC_CHAT_FLUSH_INTERVAL", 0.1, 0.005, 10),
        presence_interval=_float(values, "MHC_CHAT_PRESENCE_INTERVAL", 5.0, 0.1, 60),
        revalidate_interval=_float(values, "MHC_CHAT_REVALIDATE_SECONDS", 5.0, 0, 300),
        channel=channel,
        cors_origins=origins,
    )
