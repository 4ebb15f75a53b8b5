"""Typed application keys of the forensics package."""

from __future__ import annotations

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forensics.config import ForensicsConfig
from forensics.worm import ImmutableStore
from forensics.writer import LogWriter

FCONFIG = web.AppKey("forensics_config", ForensicsConfig)
WRITER = web.AppKey("forensics_writer", LogWriter)
SIGNER = web.AppKey("forensics_signer", Ed25519PrivateKey)
EXPORTS = web.AppKey("forensics_exports", ImmutableStore)
