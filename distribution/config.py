"""Distribution settings from the environment, validated when the app is built."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from server.config import Config, ConfigError, env_number

_REGISTRANT = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}$")
_PARTY_ID = re.compile(r"^PADPIDA[0-9]{10}[0-9A-Z]{1}$|^[A-Z0-9]{6,}$")


@dataclass(frozen=True)
class DistributionConfig:
    """Who the label is, how its codes are made, and the limits of uploads and reports."""

    schema_dir: Path  # the DDEX ERN 4.3 XSDs (release-notification.xsd + allowed-value-sets.xsd)
    isrc_registrant: str  # country code + registrant code, e.g. "FRZ03"
    gs1_prefix: str  # GS1 company prefix, 6 to 11 digits
    party_id: str  # the label's DDEX party id (DPID), the sender of every message
    party_name: str
    data_dir: Path  # uploaded files and built packages
    max_upload_bytes: int = 500 * 1024 * 1024
    min_cover_px: int = 1400
    platform_fee_bps: int = 1000  # 10 %
    test_messages: bool = False  # MessageControlType TestMessage instead of LiveMessage
    uploads_in_flight: int = 4  # audio decodes at once; more wait

    @property
    def upc_digits(self) -> int:
        """How many digits of item reference the GS1 prefix leaves in an EAN-13."""
        return 12 - len(self.gs1_prefix)


def load(cfg: Config) -> DistributionConfig:
    """Read MHC_DISTRIBUTION_* variables (ConfigError names a bad one)."""
    env = cfg.env
    registrant = env.get("MHC_DISTRIBUTION_ISRC_REGISTRANT", "ZZM01").strip().upper()
    if not _REGISTRANT.match(registrant):
        raise ConfigError(
            "MHC_DISTRIBUTION_ISRC_REGISTRANT must be a country code and a 3-character "
            f"registrant code like FRZ03, got {registrant!r}"
        )
    prefix = env.get("MHC_DISTRIBUTION_GS1_PREFIX", "0000000").strip()
    if not (prefix.isdigit() and 6 <= len(prefix) <= 11):
        raise ConfigError(f"MHC_DISTRIBUTION_GS1_PREFIX must be 6 to 11 digits, got {prefix!r}")
    party_id = env.get("MHC_DISTRIBUTION_PARTY_ID", "PADPIDA0000000001X").strip()
    if not _PARTY_ID.match(party_id):
        raise ConfigError(f"MHC_DISTRIBUTION_PARTY_ID is not a DDEX party id: {party_id!r}")
    schema_dir = Path(
        env.get("MHC_DISTRIBUTION_SCHEMA_DIR") or cfg.state_dir / "ddex" / "ern43"
    ).resolve()
    return DistributionConfig(
        schema_dir=schema_dir,
        isrc_registrant=registrant,
        gs1_prefix=prefix,
        party_id=party_id,
        party_name=env.get("MHC_DISTRIBUTION_PARTY_NAME", "MHC Live").strip() or "MHC Live",
        data_dir=Path(env.get("MHC_DISTRIBUTION_DIR") or cfg.state_dir / "distribution").resolve(),
        max_upload_bytes=env_number(
            env, "MHC_DISTRIBUTION_MAX_UPLOAD_BYTES", 500 * 1024 * 1024, 1024, 10 * 1024**3, int
        ),
        min_cover_px=env_number(env, "MHC_DISTRIBUTION_MIN_COVER_PX", 1400, 1, 10_000, int),
        platform_fee_bps=env_number(env, "MHC_DISTRIBUTION_PLATFORM_FEE_BPS", 1000, 0, 10_000, int),
        test_messages=env.get("MHC_DISTRIBUTION_TEST_MESSAGES", "").lower() in ("1", "true", "yes"),
        uploads_in_flight=env_number(env, "MHC_DISTRIBUTION_UPLOADS_IN_FLIGHT", 4, 1, 256, int),
    )
