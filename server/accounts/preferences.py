"""Account preferences other packages read.

Stand-in until preferences are stored: nobody has chosen a realm yet.
"""

from __future__ import annotations

import uuid

import asyncpg


async def realm_of(conn: asyncpg.Connection, account_id: uuid.UUID) -> str | None:
    """The realm the account prefers, or None when it chose none."""
    return None
