"""Opaque, signed keyset cursors: a tampered or foreign cursor is a 400, never a wrong page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime

from server.errors import bad_request

_MAC = 12


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"mhc video cursor", hashlib.sha256).digest()


def encode(secret: str, at: datetime, video_id: uuid.UUID) -> str:
    """The cursor after (at, video_id)."""
    body = json.dumps([at.isoformat(), str(video_id)], separators=(",", ":")).encode()
    mac = hmac.new(_key(secret), body, hashlib.sha256).digest()[:_MAC]
    return base64.urlsafe_b64encode(mac + body).rstrip(b"=").decode()


def decode(secret: str, cursor: str) -> tuple[datetime, uuid.UUID]:
    """The keyset a cursor names; 400 invalid_cursor for anything this server did not sign."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise bad_request("cursor is not valid", "invalid_cursor") from None
    mac, body = raw[:_MAC], raw[_MAC:]
    if len(mac) != _MAC or not hmac.compare_digest(
        mac, hmac.new(_key(secret), body, hashlib.sha256).digest()[:_MAC]
    ):
        raise bad_request("cursor is not valid", "invalid_cursor")
    at, video_id = json.loads(body)
    return datetime.fromisoformat(at), uuid.UUID(video_id)
