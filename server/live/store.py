"""SQL for the live_events table; nothing else touches it. Rows leave as typed `Event`s."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from server.live.event import Event

COLUMNS = """id, artist_id, title, description, starts_at, price_minor, currency, capacity,
             replay_access, status, started_at, ended_at, created_at, updated_at,
             publisher_client IS NOT NULL AS publishing"""
EDITABLE = (
    "title",
    "description",
    "starts_at",
    "price_minor",
    "currency",
    "capacity",
    "replay_access",
)


async def insert(
    conn: asyncpg.Connection,
    event_id: uuid.UUID,
    artist_id: uuid.UUID,
    fields: dict[str, Any],
    key_hash: bytes,
) -> Event:
    """Create a scheduled event."""
    row = await conn.fetchrow(
        f"""INSERT INTO live_events (id, artist_id, title, description, starts_at, price_minor,
                                     currency, capacity, replay_access, stream_key_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}""",
        event_id,
        artist_id,
        fields["title"],
        fields["description"],
        fields["starts_at"],
        fields["price_minor"],
        fields["currency"],
        fields["capacity"],
        fields["replay_access"],
        key_hash,
    )
    assert row is not None
    return Event.from_row(row)


def _event(row: asyncpg.Record | None) -> Event | None:
    return None if row is None else Event.from_row(row)


async def get(conn: asyncpg.Connection, event_id: uuid.UUID) -> Event | None:
    """One event."""
    return _event(await conn.fetchrow(f"SELECT {COLUMNS} FROM live_events WHERE id = $1", event_id))


async def update(
    conn: asyncpg.Connection, event_id: uuid.UUID, changes: dict[str, Any], now: datetime
) -> Event | None:
    """Edit a scheduled event; None when it is no longer scheduled."""
    names = [name for name in EDITABLE if name in changes]
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, 3))
    return _event(
        await conn.fetchrow(
            f"""UPDATE live_events SET {sets}{"," if sets else ""} updated_at = $2
            WHERE id = $1 AND status = 'scheduled' RETURNING {COLUMNS}""",
            event_id,
            now,
            *(changes[name] for name in names),
        )
    )


async def cancel(conn: asyncpg.Connection, event_id: uuid.UUID, now: datetime) -> Event | None:
    """Cancel a scheduled event; None when it is live, ended or already cancelled."""
    return _event(
        await conn.fetchrow(
            f"""UPDATE live_events SET status = 'cancelled', updated_at = $2
            WHERE id = $1 AND status = 'scheduled' RETURNING {COLUMNS}""",
            event_id,
            now,
        )
    )


async def set_key(
    conn: asyncpg.Connection, event_id: uuid.UUID, key_hash: bytes, now: datetime
) -> bool:
    """Replace the stream key of an event that is not over."""
    result = await conn.execute(
        """UPDATE live_events SET stream_key_hash = $2, updated_at = $3
           WHERE id = $1 AND status IN ('scheduled', 'live')""",
        event_id,
        key_hash,
        now,
    )
    return bool(result.endswith(" 1"))


async def listing(
    conn: asyncpg.Connection,
    statuses: tuple[str, ...],
    limit: int,
    artist_id: uuid.UUID | None = None,
) -> list[Event]:
    """Events in the given states, soonest first."""
    return [
        Event.from_row(row)
        for row in await conn.fetch(
            f"""SELECT {COLUMNS} FROM live_events
            WHERE status = ANY($1::text[]) AND ($3::uuid IS NULL OR artist_id = $3)
            ORDER BY starts_at, id LIMIT $2""",
            list(statuses),
            limit,
            artist_id,
        )
    ]


async def start_publish(
    conn: asyncpg.Connection,
    key_hash: bytes,
    client: str,
    now: datetime,
    resume_after: datetime,
    stale_before: datetime,
) -> Event | None:
    """Claim the publisher slot for a key, atomically; None when refused.

    A slot whose holder nginx has not vouched for since `stale_before` counts as free.
    """
    return _event(
        await conn.fetchrow(
            f"""UPDATE live_events
            SET status = 'live', publisher_client = $2, publisher_seen_at = $3, updated_at = $3,
                started_at = coalesce(started_at, $3), ended_at = NULL
            WHERE stream_key_hash = $1
              AND (publisher_client IS NULL OR coalesce(publisher_seen_at, '-infinity') < $5)
              AND (status IN ('scheduled', 'live') OR (status = 'ended' AND ended_at > $4))
            RETURNING {COLUMNS}""",
            key_hash,
            client,
            now,
            resume_after,
            stale_before,
        )
    )


async def publisher_seen(
    conn: asyncpg.Connection, event_id: uuid.UUID, client: str, now: datetime
) -> bool:
    """Record that nginx still carries `client`'s stream."""
    result = await conn.execute(
        "UPDATE live_events SET publisher_seen_at = $3 WHERE id = $1 AND publisher_client = $2",
        event_id,
        client,
        now,
    )
    return bool(result.endswith(" 1"))


async def end_publish(
    conn: asyncpg.Connection,
    event_id: uuid.UUID,
    client: str,
    ended_at: datetime,
    now: datetime,
    seen_before: datetime | None = None,
) -> Event | None:
    """Release the publisher slot held by `client` and mark the event ended.

    With `seen_before`, only a claim nginx has not vouched for since then is released, so a
    heartbeat that lands first keeps the show on.
    """
    return _event(
        await conn.fetchrow(
            f"""UPDATE live_events
            SET status = 'ended', publisher_client = NULL, publisher_seen_at = NULL,
                ended_at = $3, updated_at = $4
            WHERE id = $1 AND publisher_client = $2
              AND ($5::timestamptz IS NULL
                   OR coalesce(publisher_seen_at, '-infinity') < $5::timestamptz)
            RETURNING {COLUMNS}""",
            event_id,
            client,
            ended_at,
            now,
            seen_before,
        )
    )


async def stale_publishers(
    conn: asyncpg.Connection, stale_before: datetime, limit: int
) -> list[tuple[uuid.UUID, str, datetime | None]]:
    """Live events whose publisher nginx stopped vouching for: (id, client, last seen)."""
    rows = await conn.fetch(
        """SELECT id, publisher_client, publisher_seen_at FROM live_events
        WHERE status = 'live' AND publisher_client IS NOT NULL
          AND coalesce(publisher_seen_at, '-infinity') < $1
        ORDER BY publisher_seen_at NULLS FIRST LIMIT $2""",
        stale_before,
        limit,
    )
    return [(row["id"], row["publisher_client"], row["publisher_seen_at"]) for row in rows]


async def events_held_by(conn: asyncpg.Connection, client: str, limit: int) -> list[uuid.UUID]:
    """Live events whose publisher claim `client` holds."""
    rows = await conn.fetch(
        """SELECT id FROM live_events
        WHERE publisher_client = $1 AND status = 'live' LIMIT $2""",
        client,
        limit,
    )
    return [row["id"] for row in rows]


async def event_for_key(conn: asyncpg.Connection, key_hash: bytes) -> Event | None:
    """The event a stream key belongs to."""
    return _event(
        await conn.fetchrow(
            f"SELECT {COLUMNS} FROM live_events WHERE stream_key_hash = $1", key_hash
        )
    )
