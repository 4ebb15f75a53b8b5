"""Settings of the audit trail, read from the app's environment and validated at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.config import Config, ConfigError


@dataclass(frozen=True)
class ForensicsConfig:
    """Where the signing key and exports live, and when the daily job runs."""

    key_path: Path
    key_name: str
    origin: str
    export_dir: Path
    cron: str
    hash_secret: bytes


def load(cfg: Config) -> ForensicsConfig:
    """Read MHC_FORENSIC_* variables; raise ConfigError naming a bad one."""
    env = cfg.env
    key_path = Path(env.get("MHC_FORENSIC_KEY") or cfg.state_dir / "forensic-ed25519.pem")
    key_name = env.get("MHC_FORENSIC_KEY_NAME", "mhc-live-audit")
    if not key_name or any(c.isspace() or c == "+" for c in key_name):
        raise ConfigError("MHC_FORENSIC_KEY_NAME must be non-empty, without spaces or '+'")
    origin = env.get("MHC_FORENSIC_ORIGIN") or f"{cfg.public_url.split('://', 1)[-1]}/audit"
    if "\n" in origin:
        raise ConfigError("MHC_FORENSIC_ORIGIN must be one line")
    cron = env.get("MHC_FORENSIC_CRON", "0 2 * * *")
    from croniter import croniter

    if not croniter.is_valid(cron):
        raise ConfigError(f"MHC_FORENSIC_CRON is not a cron expression: {cron!r}")
    # Keyed hashes (of IPs, emails) let records be correlated without holding the value.
    secret = env.get("MHC_FORENSIC_HASH_SECRET") or cfg.jwt_secret
    if len(secret) < 32:
        raise ConfigError("MHC_FORENSIC_HASH_SECRET must be at least 32 characters")
    return ForensicsConfig(
        key_path=key_path,
        key_name=key_name,
        origin=origin,
        export_dir=Path(env.get("MHC_FORENSIC_EXPORT_DIR") or cfg.state_dir / "forensic-exports"),
        cron=cron,
        hash_secret=("forensic-hash:" + secret).encode(),
    )
