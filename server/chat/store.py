"""SQL for the chat_* tables; nothing else touches them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

MESSAGE_COLUMNS = "id, event_id, author_id, author_name, body, created_at, deleted_at"

# One row of a writer batch: id, event_id, author_id, author_name, body, created_at.
MessageRow = tuple[uuid.UUID, uuid.UUID, uuid.UUID, str, str, datetime]


async def insert_messages(conn: asyncpg.Connection, rows: Sequence[MessageRow]) -> None:
    """Insert a batch in one statement; ids already present (moderated early) are kept as they are."""
    await conn.execute(
        """INSERT INTO chat_messages (id, event_id, author_id, author_name, body, created_at)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                                $6::timestamptz[])
           ON CONFLICT (id) DO NOTHING""",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
    )


async def recent_messages(
    conn: asyncpg.Connection, event_id: uuid.UUID, limit: int
) -> list[asyncpg.Record]:
    """The newest visible messages of an event, oldest first."""
    rows = await conn.fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM chat_messages
            WHERE event_id = $1 AND deleted_at IS NULL
            ORDER BY created_at DESC, id DESC LIMIT $2""",
        event_id,
        limit,
    )
    return list(reversed(rows))


async def message(
    conn: asyncpg.Connection, event_id: uuid.UUID, message_id: uuid.UUID
) -> asyncpg.Record | None:
    """One message of an event, deleted or not."""
    return await conn.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE id = $1 AND event_id = $2",
        message_id,
        event_id,
    )


async def delete_message(
    conn: asyncpg.Connection,
    event_id: uuid.UUID,
    message_id: uuid.UUID,
    actor: uuid.UUID,
    now: datetime,
    unflushed: MessageRow | None,
) -> uuid.UUID | None:
    """Mark a message deleted (idempotently); returns its author, or None if unknown.

    `unflushed` is the message as the Redis mirror holds it: with it the row is upserted, so
    a delete that overtakes the writer's batch still lands, and the batch insert then keeps it.
    """
    if unflushed is None:
        return await conn.fetchval(  # type: ignore[no-any-return]
            """UPDATE chat_messages
               SET deleted_at = coalesce(deleted_at, $3), deleted_by = coalesce(deleted_by, $4)
               WHERE id = $1 AND event_id = $2 RETURNING author_id""",
            message_id,
            event_id,
            now,
            actor,
        )
    return await conn.fetchval(  # type: ignore[no-any-return]
        """INSERT INTO chat_messages (id, event_id, author_id, author_name, body, created_at,
                                      deleted_at, deleted_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE
               SET deleted_at = coalesce(chat_messages.deleted_at, EXCLUDED.deleted_at),
                   deleted_by = coalesce(chat_messages.deleted_by, EXCLUDED.deleted_by)
               WHERE chat_messages.event_id = EXCLUDED.event_id
           RETURNING author_id""",
        *unflushed,
        now,
        actor,
    )


async def room(conn: asyncpg.Connection, event_id: uuid.UUID) -> asyncpg.Record | None:
    """An event's chat settings (absent until first changed)."""
    return await conn.fetchrow(
        "SELECT slow_mode_seconds, pinned_message_id FROM chat_rooms WHERE event_id = $1",
        event_id,
    )


async def set_slow_mode(
    conn: asyncpg.Connection, event_id: uuid.UUID, seconds: int, now: datetime
) -> None:
    """Set the room's slow mode (0 turns it off)."""
    await conn.execute(
        """INSERT INTO chat_rooms (event_id, slow_mode_seconds, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (event_id) DO UPDATE SET slow_mode_seconds = $2, updated_at = $3""",
        event_id,
        seconds,
        now,
    )


async def set_pinned(
    conn: asyncpg.Connection, event_id: uuid.UUID, message_id: uuid.UUID | None, now: datetime
) -> None:
    """Pin a message in the room, or unpin with None."""
    await conn.execute(
        """INSERT INTO chat_rooms (event_id, pinned_message_id, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (event_id) DO UPDATE SET pinned_message_id = $2, updated_at = $3""",
        event_id,
        message_id,
        now,
    )


async def unpin_if(
    conn: asyncpg.Connection, event_id: uuid.UUID, message_id: uuid.UUID, now: datetime
) -> bool:
    """Unpin `message_id` if it is the pinned one; True when it was."""
    result = await conn.execute(
        """UPDATE chat_rooms SET pinned_message_id = NULL, updated_at = $3
           WHERE event_id = $1 AND pinned_message_id = $2""",
        event_id,
        message_id,
        now,
    )
    return bool(result.endswith(" 1"))


async def active_sanctions(
    conn: asyncpg.Connection, event_id: uuid.UUID, now: datetime
) -> list[asyncpg.Record]:
    """Bans and unexpired timeouts in force in an event's chat."""
    return list(
        await conn.fetch(
            """SELECT user_id, kind, expires_at, created_by, created_at FROM chat_sanctions
           WHERE event_id = $1 AND lifted_at IS NULL
             AND (kind = 'ban' OR expires_at > $2)
           ORDER BY created_at""",
            event_id,
            now,
        )
    )


async def add_ban(
    conn: asyncpg.Connection,
    sanction_id: uuid.UUID,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: uuid.UUID,
    now: datetime,
) -> bool:
    """Ban a user from an event's chat; False when already banned."""
    result = await conn.execute(
        """INSERT INTO chat_sanctions (id, event_id, user_id, kind, created_by, created_at)
           VALUES ($1, $2, $3, 'ban', $4, $5)
           ON CONFLICT (event_id, user_id) WHERE kind = 'ban' AND lifted_at IS NULL DO NOTHING""",
        sanction_id,
        event_id,
        user_id,
        actor,
        now,
    )
    return bool(result.endswith(" 1"))


async def lift_ban(
    conn: asyncpg.Connection,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: uuid.UUID,
    now: datetime,
) -> bool:
    """Lift a ban; False when there was none."""
    result = await conn.execute(
        """UPDATE chat_sanctions SET lifted_at = $4, lifted_by = $3
           WHERE event_id = $1 AND user_id = $2 AND kind = 'ban' AND lifted_at IS NULL""",
        event_id,
        user_id,
        actor,
        now,
    )
    return bool(result.endswith(" 1"))


async def set_timeout(
    conn: asyncpg.Connection,
    sanction_id: uuid.UUID,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    until: datetime,
    actor: uuid.UUID,
    now: datetime,
) -> None:
    """Time a user out until `until`; the newest timeout replaces any earlier one."""
    await conn.execute(
        """WITH lifted AS (
               UPDATE chat_sanctions SET lifted_at = $6, lifted_by = $5
               WHERE event_id = $2 AND user_id = $3 AND kind = 'timeout' AND lifted_at IS NULL)
           INSERT INTO chat_sanctions (id, event_id, user_id, kind, expires_at, created_by,
                                       created_at)
           VALUES ($1, $2, $3, 'timeout', $4, $5, $6)""",
        sanction_id,
        event_id,
        user_id,
        until,
        actor,
        now,
    )


async def add_moderator(
    conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID, actor: uuid.UUID
) -> bool:
    """Assign a moderator to an event; False when already assigned."""
    result = await conn.execute(
        """INSERT INTO chat_moderators (event_id, user_id, assigned_by) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""",
        event_id,
        user_id,
        actor,
    )
    return bool(result.endswith(" 1"))


async def remove_moderator(
    conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """Unassign a moderator; False when not assigned."""
    result = await conn.execute(
        "DELETE FROM chat_moderators WHERE event_id = $1 AND user_id = $2", event_id, user_id
    )
    return bool(result.endswith(" 1"))


async def moderators(conn: asyncpg.Connection, event_id: uuid.UUID) -> list[asyncpg.Record]:
    """An event's assigned moderators, in assignment order."""
    return list(
        await conn.fetch(
            """SELECT user_id, assigned_by, created_at FROM chat_moderators
           WHERE event_id = $1 ORDER BY created_at, user_id""",
            event_id,
        )
    )


async def is_moderator(conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """True when `user_id` is assigned to moderate the event."""
    found = await conn.fetchval(
        "SELECT 1 FROM chat_moderators WHERE event_id = $1 AND user_id = $2", event_id, user_id
    )
    return found is not None
