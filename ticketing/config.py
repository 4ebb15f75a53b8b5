"""Ticketing settings from the environment (and MHC_ENV_FILE), validated when the app is built.

Payments use Stripe when STRIPE_SECRET_KEY is set; when no STRIPE_* variable is set at all, a
clearly-labelled development provider completes purchases locally. A partial Stripe setup
(any STRIPE_* or STRIPE_*_FILE variable but no usable secret key) refuses to start unless
MHC_PAYMENTS=dev is explicit (MHC_PAYMENTS=dev|stripe forces one or the other).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.config import Config, ConfigError, env_number, env_value

MAX_QR_TTL = 600  # a code is valid for at most 10 minutes


@dataclass(frozen=True)
class TicketingConfig:
    """Validated ticketing settings; secrets stay out of repr."""

    provider: str  # "stripe" or "dev"
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_publishable_key: str | None = None
    stripe_api_base: str | None = None
    webhook_tolerance: int = 300
    qr_key: bytes = field(default=b"", repr=False)
    qr_ttl: int = 300
    hold_seconds: int = 15 * 60
    sweep_seconds: float = 30.0
    replay_days: int = 7
    record_dir: Path = Path(".mhc-state/recordings")
    purchase_burst: int = 10
    purchase_per_minute: int = 6
    validate_ip_burst: int = 30
    validate_ip_per_minute: int = 30
    validate_ticket_burst: int = 10
    validate_ticket_per_minute: int = 10
    # Unpaid holds at once: throwaway accounts (or one address) cannot sit on a small event.
    holds_per_account: int = 3
    holds_per_address: int = 10
    # Tips and subscriptions: bounds in minor units, the platform's fee (the processing fee is
    # the ticket split's), the currencies accepted, and how often one fan may start a tip.
    tip_min: int = 100
    tip_max: int = 50_000
    tip_platform_bps: int = 1000
    currencies: tuple[str, ...] = ("EUR", "USD", "GBP")
    tip_burst: int = 10
    tip_per_minute: int = 10
    subscription_min: int = 100
    subscription_max: int = 10_000


def _currencies(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("MHC_MONEY_CURRENCIES", "EUR,USD,GBP")
    codes = tuple(c.strip().upper() for c in raw.split(",") if c.strip())
    if not codes or any(len(c) != 3 or not c.isalpha() or not c.isascii() for c in codes):
        raise ConfigError("MHC_MONEY_CURRENCIES must list ISO 4217 codes like EUR,USD")
    return codes


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return env_number(env, name, default, low, high, int)


def _prefixed(env: Mapping[str, str], name: str, prefixes: tuple[str, ...]) -> str | None:
    value = env_value(env, name)
    if not value:
        return None
    if not value.startswith(prefixes) or len(value) < len(prefixes[0]) + 4:
        raise ConfigError(f"{name} must start with {' or '.join(prefixes)}")
    return value


def _qr_key(env: Mapping[str, str], core: Config) -> bytes:
    value = env_value(env, "MHC_QR_SECRET")
    if value:
        if len(value) < 32:
            raise ConfigError("MHC_QR_SECRET must be at least 32 characters")
        return hashlib.sha256(value.encode()).digest()
    # Without its own secret, the QR key is derived from the playback secret (a one-way,
    # domain-separated derivation), so codes stay valid across restarts and processes.
    return hmac.new(core.playback_secret.encode(), b"mhc-ticket-qr-v1", hashlib.sha256).digest()


def load(core: Config, env: Mapping[str, str] | None = None) -> TicketingConfig:
    """Build the ticketing config from the core's merged environment (or `env`), or raise
    ConfigError naming the bad variable."""
    e = dict(core.env if env is None else env)
    secret = _prefixed(e, "STRIPE_SECRET_KEY", ("sk_", "rk_"))
    webhook = _prefixed(e, "STRIPE_WEBHOOK_SECRET", ("whsec_",))
    publishable = _prefixed(e, "STRIPE_PUBLISHABLE_KEY", ("pk_",))
    api_base = e.get("STRIPE_API_BASE", "").rstrip("/") or None
    if api_base is not None and not api_base.startswith(("http://", "https://")):
        raise ConfigError("STRIPE_API_BASE must start with http:// or https://")
    explicit = e.get("MHC_PAYMENTS", "").strip().lower()
    if explicit not in ("", "stripe", "dev"):
        raise ConfigError(f"MHC_PAYMENTS must be 'stripe' or 'dev', got {explicit!r}")
    if not explicit and secret is None:
        # Any sign of a Stripe setup means real sales were meant: an incomplete one must not
        # fall back to payments that charge no one. Only MHC_PAYMENTS=dev says so explicitly.
        present = sorted(name for name in e if name.startswith("STRIPE_"))
        if present:
            raise ConfigError(
                "STRIPE_SECRET_KEY is missing or empty (or STRIPE_SECRET_KEY_FILE names an "
                f"empty file) while {', '.join(present)} is set; set it, or set "
                "MHC_PAYMENTS=dev to use development payments"
            )
    mode = explicit or ("stripe" if secret else "dev")
    if mode == "stripe":
        if secret is None:
            raise ConfigError("STRIPE_SECRET_KEY is required when MHC_PAYMENTS=stripe")
        if webhook is None:
            raise ConfigError("STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set")
    record_dir = core.record_dir
    return TicketingConfig(
        provider=mode,
        stripe_secret_key=secret,
        stripe_webhook_secret=webhook,
        stripe_publishable_key=publishable,
        stripe_api_base=api_base,
        webhook_tolerance=_int(e, "STRIPE_WEBHOOK_TOLERANCE", 300, 30, 600),
        qr_key=_qr_key(e, core),
        qr_ttl=_int(e, "MHC_QR_TTL", 300, 30, MAX_QR_TTL),
        hold_seconds=_int(e, "MHC_TICKET_HOLD_MINUTES", 15, 1, 120) * 60,
        sweep_seconds=float(_int(e, "MHC_TICKET_SWEEP_SECONDS", 30, 1, 3600)),
        replay_days=_int(e, "MHC_REPLAY_DAYS", 7, 1, 365),
        record_dir=record_dir,
        purchase_burst=_int(e, "MHC_PURCHASE_BURST", 10, 1, 10_000),
        purchase_per_minute=_int(e, "MHC_PURCHASE_PER_MINUTE", 6, 1, 100_000),
        validate_ip_burst=_int(e, "MHC_VALIDATE_IP_BURST", 30, 1, 100_000),
        validate_ip_per_minute=_int(e, "MHC_VALIDATE_IP_PER_MINUTE", 30, 1, 1_000_000),
        validate_ticket_burst=_int(e, "MHC_VALIDATE_TICKET_BURST", 10, 1, 100_000),
        validate_ticket_per_minute=_int(e, "MHC_VALIDATE_TICKET_PER_MINUTE", 10, 1, 1_000_000),
        holds_per_account=_int(e, "MHC_HOLDS_PER_ACCOUNT", 3, 1, 10_000),
        holds_per_address=_int(e, "MHC_HOLDS_PER_ADDRESS", 10, 1, 1_000_000),
        **_money(e),
    )


def _money(e: Mapping[str, str]) -> dict[str, Any]:
    tip_min = _int(e, "MHC_TIP_MIN", 100, 1, 10**9)
    tip_max = _int(e, "MHC_TIP_MAX", 50_000, 1, 10**9)
    if tip_max < tip_min:
        raise ConfigError("MHC_TIP_MAX must not be below MHC_TIP_MIN")
    sub_min = _int(e, "MHC_SUBSCRIPTION_MIN", 100, 1, 10**9)
    sub_max = _int(e, "MHC_SUBSCRIPTION_MAX", 10_000, 1, 10**9)
    if sub_max < sub_min:
        raise ConfigError("MHC_SUBSCRIPTION_MAX must not be below MHC_SUBSCRIPTION_MIN")
    return {
        "tip_min": tip_min,
        "tip_max": tip_max,
        # The processing fee takes the ticket split's share; both must leave the artist some.
        "tip_platform_bps": _int(e, "MHC_TIP_PLATFORM_BPS", 1000, 0, 8000),
        "currencies": _currencies(e),
        "tip_burst": _int(e, "MHC_TIP_BURST", 10, 1, 10_000),
        "tip_per_minute": _int(e, "MHC_TIP_PER_MINUTE", 10, 1, 100_000),
        "subscription_min": sub_min,
        "subscription_max": sub_max,
    }
