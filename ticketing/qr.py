"""Rotating, signed ticket codes and their QR rendering.

A code is base32 (QR alphanumeric mode, no padding) of:
  version (1 byte) | ticket id (16) | event id (16) | not-before (u32 epoch s) |
  not-after (u32 epoch s) | HMAC-SHA256 over the preceding 41 bytes, first 16 bytes
57 bytes -> 92 characters. It names only random ids and a time window: no personal data.
A window is at most 10 minutes long; the app fetches a fresh code before it ends, so a
screenshot goes stale.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import struct
import uuid
from dataclasses import dataclass

import segno

VERSION = 1
MAX_WINDOW = 600  # seconds
CLOCK_SKEW = 30  # a code is accepted this long before its window opens
_BODY = struct.Struct(">B16s16sII")
_MAC_LEN = 16
CODE_LEN = len(base64.b32encode(b"\0" * (_BODY.size + _MAC_LEN)).rstrip(b"="))


@dataclass(frozen=True)
class CodeClaims:
    """What a genuine code names."""

    ticket_id: uuid.UUID
    event_id: uuid.UUID
    not_before: int
    not_after: int


class CodeRejected(Exception):
    """A code is not acceptable; `reason` is 'invalid' (malformed, forged) or 'invalid_time'."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def sign(
    key: bytes, ticket_id: uuid.UUID, event_id: uuid.UUID, not_before: int, not_after: int
) -> str:
    """A code for a ticket valid in [not_before, not_after)."""
    if not 0 < not_after - not_before <= MAX_WINDOW:
        raise ValueError("a code's window must be 1 s to 10 min long")
    body = _BODY.pack(VERSION, ticket_id.bytes, event_id.bytes, not_before, not_after)
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]
    return base64.b32encode(body + mac).rstrip(b"=").decode()


def _raw(code: str) -> bytes | None:
    if not isinstance(code, str) or len(code) != CODE_LEN:
        return None
    try:
        raw = base64.b32decode(code.upper() + "=" * (-len(code) % 8))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _BODY.size + _MAC_LEN and raw[0] == VERSION else None


def verify_signature(key: bytes, code: str) -> CodeClaims:
    """The claims of a genuine code (its window is not checked here)."""
    raw = _raw(code)
    if raw is None:
        raise CodeRejected("invalid", "not a ticket code (malformed or truncated)")
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]):
        raise CodeRejected("invalid", "the code's signature does not match")
    _, ticket, event, nbf, naf = _BODY.unpack(body)
    return CodeClaims(uuid.UUID(bytes=ticket), uuid.UUID(bytes=event), nbf, naf)


def check_window(claims: CodeClaims, now: float) -> None:
    """Refuse a code outside its window (or with a window longer than allowed)."""
    if claims.not_after - claims.not_before > MAX_WINDOW:
        raise CodeRejected("invalid_time", "the code's window is too long")
    if now < claims.not_before - CLOCK_SKEW:
        raise CodeRejected("invalid_time", "the code is not valid yet")
    if now >= claims.not_after:
        raise CodeRejected("invalid_time", "the code has expired; show a fresh one")


def render_png(code: str, scale: int = 8) -> bytes:
    """The code as a QR PNG (error correction M, quiet zone of 4 modules)."""
    buf = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def render_svg(code: str, scale: int = 8) -> bytes:
    """The code as a QR SVG."""
    buf = io.BytesIO()
    segno.make(code, error="m", micro=False).save(
        buf, kind="svg", scale=scale, border=4, xmldecl=False
    )
    return buf.getvalue()
