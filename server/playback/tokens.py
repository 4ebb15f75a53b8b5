"""Compact HMAC-signed playback tokens, verified without any database query.

Layout (before base64url): version byte, kind byte (live, replay or vod: the only path the
token opens), expiry as u64 epoch seconds, viewer, event and session UUIDs (16 bytes each), then
the first 16 bytes of HMAC-SHA256 over all of that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass

_VERSION = 2
_BODY = struct.Struct(">BBQ16s16s16s")
# Appended only: a kind's byte is its index, so existing tokens keep their meaning.
KINDS = ("live", "replay", "vod")
_MAC_LEN = 16
_TOKEN_LEN = len(base64.urlsafe_b64encode(b"\0" * (_BODY.size + _MAC_LEN)).rstrip(b"="))


@dataclass(frozen=True)
class PlaybackClaims:
    """What a valid token grants."""

    viewer: uuid.UUID
    event: uuid.UUID
    session: uuid.UUID
    exp: int
    kind: str = "live"


class TokenRejected(Exception):
    """Why a token does not grant access (the reason goes to metrics, not to the client)."""


def sign(key: bytes, claims: PlaybackClaims) -> str:
    """Encode and sign claims into a URL-safe token."""
    body = _BODY.pack(
        _VERSION,
        KINDS.index(claims.kind),
        claims.exp,
        claims.viewer.bytes,
        claims.event.bytes,
        claims.session.bytes,
    )
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]
    return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()


def verify(key: bytes, token: str, now: float) -> PlaybackClaims:
    """The claims of a genuine, unexpired token; TokenRejected otherwise."""
    if len(token) != _TOKEN_LEN:
        raise TokenRejected("malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise TokenRejected("malformed") from None
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]):
        raise TokenRejected("bad_signature")
    version, kind, exp, viewer, event, session = _BODY.unpack(body)
    if version != _VERSION:
        raise TokenRejected("bad_version")
    if kind >= len(KINDS):
        raise TokenRejected("malformed")
    if exp <= now:
        raise TokenRejected("expired")
    return PlaybackClaims(
        uuid.UUID(bytes=viewer), uuid.UUID(bytes=event), uuid.UUID(bytes=session), exp, KINDS[kind]
    )
