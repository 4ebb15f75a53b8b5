"""Ledger settings from the environment, validated when the app is built."""

from __future__ import annotations

from dataclasses import dataclass

from server.config import Config, env_number


@dataclass(frozen=True)
class LedgerConfig:
    """How long ticket revenue is held, and the payout rules."""

    hold_days: float = 7.0  # after the event ended, for chargebacks
    release_seconds: int = 300  # how often due revenue is released
    min_withdrawal: int = 1000  # minor units


def load(cfg: Config) -> LedgerConfig:
    """Read MHC_LEDGER_* variables (ConfigError names a bad one)."""
    env = cfg.env
    return LedgerConfig(
        hold_days=env_number(env, "MHC_LEDGER_HOLD_DAYS", 7.0, 0.0, 365.0, float),
        release_seconds=env_number(env, "MHC_LEDGER_RELEASE_SECONDS", 300, 1, 86_400, int),
        min_withdrawal=env_number(env, "MHC_LEDGER_MIN_WITHDRAWAL", 1000, 1, 10**9, int),
    )
