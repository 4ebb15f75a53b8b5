"""Personal data kept beside the chain, encrypted per subject, and erasable (GDPR art. 17)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from forensics import store


async def seal(conn: asyncpg.Connection, subject: str, details: dict[str, Any]) -> uuid.UUID | None:
    """Encrypt details under the subject's key; returns the reference the record carries.

    None when the subject has been erased: nothing new is stored about them.
    """
    key = await store.subject_key(conn, subject, AESGCM.generate_key(bit_length=256))
    if key is None:
        return None
    ref = uuid.uuid4()
    nonce = os.urandom(12)
    # The reference is bound in as associated data, so blobs cannot be swapped between rows.
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(details).encode(), ref.bytes)
    await store.insert_personal(conn, ref, subject, nonce, ciphertext)
    return ref


async def unseal(conn: asyncpg.Connection, ref: uuid.UUID) -> dict[str, Any] | None:
    """The details behind a reference, or None when erased or unknown."""
    row = await store.personal(conn, ref)
    if row is None or row["key"] is None:
        return None
    plain = AESGCM(bytes(row["key"])).decrypt(
        bytes(row["nonce"]), bytes(row["ciphertext"]), ref.bytes
    )
    return json.loads(plain)  # type: ignore[no-any-return]


async def erase(conn: asyncpg.Connection, subject: str, now: datetime) -> int:
    """Destroy the subject's key; returns how many sealed blobs it made unreadable."""
    return await store.erase_subject(conn, subject, now)
