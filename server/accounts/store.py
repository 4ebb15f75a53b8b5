"""SQL for the users and refresh_tokens tables; nothing else touches them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

USER_COLUMNS = "id, email, display_name, role, created_at"


async def insert_user(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    email: str,
    password_hash: str,
    display_name: str,
    role: str,
) -> asyncpg.Record | None:
    """Create a user; None when the email is taken."""
    return await conn.fetchrow(
        f"""INSERT INTO users (id, email, password_hash, display_name, role)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (lower(email)) DO NOTHING
            RETURNING {USER_COLUMNS}""",
        user_id,
        email,
        password_hash,
        display_name,
        role,
    )


async def user_with_hash(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """A user and its password hash, by email (case-insensitive)."""
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)", email
    )


async def user_by_id(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    """A user by id."""
    return await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)


async def set_role(
    conn: asyncpg.Connection, user_id: uuid.UUID, role: str, valid_after_ms: int | None = None
) -> asyncpg.Record | None:
    """Change a user's role (and, when given, refuse access tokens issued before then)."""
    return await conn.fetchrow(
        f"""UPDATE users SET role = $2,
                   tokens_valid_after_ms = coalesce($3, tokens_valid_after_ms)
            WHERE id = $1 RETURNING {USER_COLUMNS}""",
        user_id,
        role,
        valid_after_ms,
    )


async def role_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    """A user's current role, locked until the transaction ends."""
    role: str | None = await conn.fetchval(
        "SELECT role FROM users WHERE id = $1 FOR UPDATE", user_id
    )
    return role


async def revoke_access(
    conn: asyncpg.Connection, jti: str, user_id: uuid.UUID, expires_at: datetime
) -> None:
    """Record a logged-out access token until it would have expired."""
    await conn.execute(
        """INSERT INTO revoked_access_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (jti) DO NOTHING""",
        jti,
        user_id,
        expires_at,
    )


async def revocations_since(
    conn: asyncpg.Connection, now: datetime, valid_after_floor_ms: int
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Unexpired logged-out tokens (jti, expires_at), and users whose tokens before some
    instant are refused (id, tokens_valid_after_ms) where that instant is still relevant."""
    await conn.execute("DELETE FROM revoked_access_tokens WHERE expires_at <= $1", now)
    denied = await conn.fetch(
        "SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > $1", now
    )
    cutoffs = await conn.fetch(
        """SELECT id, tokens_valid_after_ms FROM users
           WHERE tokens_valid_after_ms IS NOT NULL AND tokens_valid_after_ms > $1""",
        valid_after_floor_ms,
    )
    return denied, cutoffs


async def insert_refresh(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    digest: bytes,
    expires_at: datetime,
) -> None:
    """Store a new refresh token of a family."""
    await conn.execute(
        """INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        uuid.uuid4(),
        user_id,
        family_id,
        digest,
        expires_at,
    )


async def lock_family_of(conn: asyncpg.Connection, digest: bytes) -> None:
    """Serialize, until commit, everything done to the family of a refresh token."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended(family_id::text, 0))
           FROM refresh_tokens WHERE token_hash = $1""",
        digest,
    )


async def use_refresh(conn: asyncpg.Connection, digest: bytes, now: datetime) -> dict[str, Any]:
    """Mark a refresh token used, atomically; reports whether it was fresh, reused or unknown."""
    row = await conn.fetchrow(
        """UPDATE refresh_tokens SET used_at = $2
           WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
           RETURNING user_id, family_id""",
        digest,
        now,
    )
    if row is not None:
        return {"state": "fresh", "user_id": row["user_id"], "family_id": row["family_id"]}
    known = await conn.fetchrow(
        "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1", digest
    )
    if known is None:
        return {"state": "unknown"}
    return {"state": "spent", "user_id": known["user_id"], "family_id": known["family_id"]}


async def revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID, now: datetime) -> None:
    """Revoke every token of a family (logout, or a reused token)."""
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
        now,
    )


async def family_of(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The family and owner of a refresh token."""
    return await conn.fetchrow(
        "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1", digest
    )


async def set_login_location(
    conn: asyncpg.Connection, user_id: uuid.UUID, latitude: float, longitude: float, at: datetime
) -> None:
    """Remember where an account logged in last."""
    await conn.execute(
        """INSERT INTO login_locations (user_id, latitude, longitude, logged_in_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id) DO UPDATE SET latitude = $2, longitude = $3, logged_in_at = $4""",
        user_id,
        latitude,
        longitude,
        at,
    )


async def login_location(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    """Where an account logged in last (latitude, longitude, logged_in_at)."""
    return await conn.fetchrow(
        "SELECT latitude, longitude, logged_in_at FROM login_locations WHERE user_id = $1", user_id
    )


async def display_names(
    conn: asyncpg.Connection, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Display names of the existing accounts among `user_ids` (one query for many)."""
    rows = await conn.fetch(
        "SELECT id, display_name FROM users WHERE id = ANY($1::uuid[])", list(user_ids)
    )
    return {row["id"]: row["display_name"] for row in rows}


async def user_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """A user by email (case-insensitive)."""
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)", email
    )


async def set_password(
    conn: asyncpg.Connection, user_id: uuid.UUID, password_hash: str, valid_after_ms: int
) -> None:
    """Replace a user's password and refuse access tokens issued before `valid_after_ms`."""
    await conn.execute(
        "UPDATE users SET password_hash = $2, tokens_valid_after_ms = $3 WHERE id = $1",
        user_id,
        password_hash,
        valid_after_ms,
    )


async def refuse_tokens_before(
    conn: asyncpg.Connection, user_id: uuid.UUID, valid_after_ms: int
) -> None:
    """Refuse the user's access tokens issued before `valid_after_ms`."""
    await conn.execute(
        "UPDATE users SET tokens_valid_after_ms = greatest(tokens_valid_after_ms, $2) WHERE id = $1",
        user_id,
        valid_after_ms,
    )


async def revoke_all_refresh(conn: asyncpg.Connection, user_id: uuid.UUID, now: datetime) -> None:
    """Revoke every refresh token of every family of a user."""
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
        now,
    )
