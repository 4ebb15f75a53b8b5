"""Opaque feed cursors: the keyset position, HMAC-signed so a client cannot forge one.

Format: `base64url(JSON payload) "." base64url(HMAC-SHA256(key, payload)[:16])`. The payload
names its feed (`f`) and viewer (`u`), so a cursor only continues the listing it came from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from server.errors import bad_request

MAX_CHARS = 512
_MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(key: bytes, payload: dict[str, Any]) -> str:
    """A signed cursor carrying `payload`."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{_b64(body)}.{_b64(mac)}"


def decode(key: bytes, cursor: str, feed: str, viewer: str | None) -> dict[str, Any]:
    """The payload of a cursor this server made for this feed and viewer, else a 400."""
    invalid = bad_request("cursor is invalid", "invalid_cursor")
    if len(cursor) > MAX_CHARS or cursor.count(".") != 1:
        raise invalid
    body_text, mac_text = cursor.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise invalid from None
    # Only the canonical spelling: base64's spare low bits would give one cursor many forms.
    if _b64(body) != body_text or _b64(mac) != mac_text:
        raise invalid
    expected = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise invalid
    try:
        payload = json.loads(body)
    except ValueError:
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("f") != feed or payload.get("u") != viewer:
        raise invalid
    return payload
