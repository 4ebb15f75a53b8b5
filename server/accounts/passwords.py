"""Argon2id password hashing, run off the event loop because it is deliberately slow."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Verifying against this makes an unknown email cost as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


async def hash_password(password: str, slots: asyncio.Semaphore | None = None) -> str:
    """An Argon2id hash string; with `slots`, waits for one (each hash holds 64 MiB)."""
    if slots is None:
        return await asyncio.get_running_loop().run_in_executor(None, _hasher.hash, password)
    async with slots:
        return await asyncio.get_running_loop().run_in_executor(None, _hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(
    stored: str | None, password: str, slots: asyncio.Semaphore | None = None
) -> bool:
    """True when `password` matches `stored`; `None` stored still spends the same time."""
    if slots is None:
        return await asyncio.get_running_loop().run_in_executor(None, _verify, stored, password)
    async with slots:
        return await asyncio.get_running_loop().run_in_executor(None, _verify, stored, password)
