"""Settings of the audit trail, read from the app's environment and validated at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.config import Config, ConfigError

SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


@dataclass(frozen=True)
class ForensicsConfig:
    """Where the signing key and exports live, and when the daily job runs."""

    key_path: Path
    key_name: str
    origin: str
    export_dir: Path
    cron: str
    # Whether app processes run the daily job themselves (off: an external cron does).
    scheduler: bool


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
    scheduler = env.get("MHC_FORENSIC_SCHEDULER", "on").strip().lower()
    if scheduler not in SWITCH:
        raise ConfigError(f"MHC_FORENSIC_SCHEDULER must be on or off, got {scheduler!r}")
    return ForensicsConfig(
        key_path=key_path,
        key_name=key_name,
        origin=origin,
        export_dir=Path(env.get("MHC_FORENSIC_EXPORT_DIR") or cfg.state_dir / "forensic-exports"),
        cron=cron,
        scheduler=SWITCH[scheduler],
    )
