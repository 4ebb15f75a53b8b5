"""The DSPs a label delivers to, each an SFTP target configured from the environment.

A target is enabled only when its host is set; then its user, private key file, pinned host
key and DDEX party id are required. For DSP code `spotify` the variables are:

- `MHC_DSP_SPOTIFY_HOST`, `MHC_DSP_SPOTIFY_PORT` (22)
- `MHC_DSP_SPOTIFY_USER`, `MHC_DSP_SPOTIFY_KEY_FILE` (an OpenSSH or PEM private key),
  `MHC_DSP_SPOTIFY_KEY_PASSPHRASE` (or `..._FILE`, when the key is encrypted)
- `MHC_DSP_SPOTIFY_HOST_KEY`: the server's public host key, as a known_hosts line
  (`[host]:port ssh-ed25519 AAAA…`) or as `ssh-ed25519 AAAA…`; nothing else is trusted
- `MHC_DSP_SPOTIFY_ROOT`: the remote folder batches go into (`/`)
- `MHC_DSP_SPOTIFY_REPORTS`: the remote folder the DSP drops sales reports into (none)
- `MHC_DSP_SPOTIFY_PARTY_ID`: the DSP's DDEX party id (`PADPIDA…`), the message recipient

and `MHC_DISTRIBUTION_SFTP_TIMEOUT` (seconds, 30), `MHC_DISTRIBUTION_ACK_POLL_SECONDS` (300).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from aiohttp import web

from server.config import ConfigError, env_number, env_value

# The eight stores of the seed: code → display name.
DSPS: dict[str, str] = {
    "spotify": "Spotify",
    "apple_music": "Apple Music",
    "amazon_music": "Amazon Music",
    "youtube_music": "YouTube Music",
    "tidal": "Tidal",
    "deezer": "Deezer",
    "bandcamp": "Bandcamp",
    "soundcloud": "SoundCloud",
}

_PARTY_ID = re.compile(r"^PADPIDA[0-9A-Z]{1,23}$")
_HOST = re.compile(r"^[A-Za-z0-9.:_-]{1,253}$")
_KEY_TYPES = {
    "ssh-ed25519": paramiko.Ed25519Key,
    "ssh-rsa": paramiko.RSAKey,
    "ecdsa-sha2-nistp256": paramiko.ECDSAKey,
    "ecdsa-sha2-nistp384": paramiko.ECDSAKey,
    "ecdsa-sha2-nistp521": paramiko.ECDSAKey,
}


@dataclass(frozen=True)
class Target:
    """One configured DSP: where and how to deliver, and who it is in DDEX messages."""

    code: str
    name: str
    host: str
    port: int
    user: str
    key_file: Path
    host_key: paramiko.PKey = field(repr=False)
    root: str
    reports: str | None
    party_id: str
    key_passphrase: str | None = field(default=None, repr=False)

    @property
    def host_key_fingerprint(self) -> str:
        """The pinned key as OpenSSH prints it (SHA256:…)."""
        return fingerprint(self.host_key)


@dataclass(frozen=True)
class DeliveryConfig:
    """The enabled targets, and how long network calls and the acknowledgement poll wait."""

    targets: dict[str, Target]
    timeout: float = 30.0
    ack_poll_seconds: int = 300


DELIVERY_CONFIG = web.AppKey("distribution_delivery_config", DeliveryConfig)


def fingerprint(key: paramiko.PKey) -> str:
    """A host key's SHA-256 fingerprint in OpenSSH's form."""
    return key.fingerprint


def parse_host_key(text: str) -> paramiko.PKey:
    """A public key from a known_hosts line or a `type base64` pair; ValueError says why."""
    parts = text.split()
    if len(parts) >= 3 and parts[1] in _KEY_TYPES:
        parts = parts[1:]
    if len(parts) < 2 or parts[0] not in _KEY_TYPES:
        raise ValueError(f"expected '<type> <base64>' with type one of {', '.join(_KEY_TYPES)}")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        key: paramiko.PKey = _KEY_TYPES[parts[0]](data=blob)
    except (binascii.Error, paramiko.SSHException, ValueError) as exc:
        raise ValueError(f"not a valid {parts[0]} public key: {exc}") from None
    if key.get_name() != parts[0] and not parts[0].startswith("ecdsa"):
        raise ValueError(f"the key is a {key.get_name()}, not a {parts[0]}")
    return key


def _folder(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = env.get(name, "").strip() or default
    if value is None:
        return None
    if not value.startswith("/") or "\x00" in value or "/../" in f"{value}/":
        raise ConfigError(f"{name} must be an absolute remote path without '..'")
    return value.rstrip("/") or "/"


def _target(env: Mapping[str, str], code: str) -> Target | None:
    prefix = f"MHC_DSP_{code.upper()}_"
    host = env.get(prefix + "HOST", "").strip()
    if not host:
        return None
    if not _HOST.match(host):
        raise ConfigError(f"{prefix}HOST is not a host name or address")
    missing = [k for k in ("USER", "KEY_FILE", "HOST_KEY", "PARTY_ID") if not env.get(prefix + k)]
    if missing:
        raise ConfigError(f"DSP {code} has a host; set {', '.join(prefix + m for m in missing)}")
    try:
        host_key = parse_host_key(env[prefix + "HOST_KEY"])
    except ValueError as exc:
        raise ConfigError(f"{prefix}HOST_KEY: {exc}") from None
    key_file = Path(env[prefix + "KEY_FILE"]).expanduser()
    if not key_file.is_file():
        raise ConfigError(f"{prefix}KEY_FILE: no file at {key_file}")
    party_id = env[prefix + "PARTY_ID"].strip()
    if not _PARTY_ID.match(party_id):
        raise ConfigError(f"{prefix}PARTY_ID must be a DDEX party id (PADPIDA…)")
    root = _folder(env, prefix + "ROOT", "/")
    assert root is not None
    return Target(
        code=code,
        name=DSPS[code],
        host=host,
        port=env_number(env, prefix + "PORT", 22, 1, 65535, int),
        user=env[prefix + "USER"].strip(),
        key_file=key_file,
        host_key=host_key,
        root=root,
        reports=_folder(env, prefix + "REPORTS", None),
        party_id=party_id,
        key_passphrase=env_value(env, prefix + "KEY_PASSPHRASE") or None,
    )


def load(env: Mapping[str, str]) -> DeliveryConfig:
    """Read the DSP targets and delivery settings (ConfigError names a bad variable)."""
    targets = {}
    for code in DSPS:
        target = _target(env, code)
        if target is not None:
            targets[code] = target
    return DeliveryConfig(
        targets=targets,
        timeout=env_number(env, "MHC_DISTRIBUTION_SFTP_TIMEOUT", 30.0, 1.0, 600.0, float),
        ack_poll_seconds=env_number(env, "MHC_DISTRIBUTION_ACK_POLL_SECONDS", 300, 1, 86_400, int),
    )


def enabled(app: web.Application) -> list[Target]:
    """The configured targets, in the seed's order."""
    return list(app[DELIVERY_CONFIG].targets.values())
