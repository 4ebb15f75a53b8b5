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
    # Where the tiles and the latest checkpoint are written for nginx to serve at /log/.
    log_dir: Path = Path(".mhc-state/log")
    # An RFC 3161 Time Stamping Authority for signed checkpoints (None: no timestamps),
    # the PEM certificates its responses are checked against, and how long to wait for it.
    tsa_url: str | None = None
    tsa_certs: Path | None = None
    tsa_timeout: float = 10.0


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
    tsa_url = env.get("MHC_FORENSIC_TSA_URL") or None
    if tsa_url is not None and not tsa_url.startswith(("http://", "https://")):
        raise ConfigError("MHC_FORENSIC_TSA_URL must be an http:// or https:// URL")
    tsa_certs = env.get("MHC_FORENSIC_TSA_CERTS")
    if tsa_url is not None and not tsa_certs:
        raise ConfigError("MHC_FORENSIC_TSA_CERTS (the TSA's PEM certificates) must be set")
    try:
        tsa_timeout = float(env.get("MHC_FORENSIC_TSA_TIMEOUT", "10"))
    except ValueError:
        raise ConfigError("MHC_FORENSIC_TSA_TIMEOUT must be a number of seconds") from None
    if not 0 < tsa_timeout <= 300:
        raise ConfigError("MHC_FORENSIC_TSA_TIMEOUT must be within 0..300 seconds")
    return ForensicsConfig(
        key_path=key_path,
        key_name=key_name,
        origin=origin,
        export_dir=Path(env.get("MHC_FORENSIC_EXPORT_DIR") or cfg.state_dir / "forensic-exports"),
        cron=cron,
        scheduler=SWITCH[scheduler],
        log_dir=cfg.state_dir / "log",
        tsa_url=tsa_url,
        tsa_certs=Path(tsa_certs) if tsa_certs else None,
        tsa_timeout=tsa_timeout,
    )
