"""Chat messages as clients see them, and their stored and mirrored forms."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from server.chat import store
from server.wire import timestamp


def iso(moment: datetime) -> str:
    """A chat moment on the wire: the shared format, cut to the milliseconds chat keeps.

    Redis holds chat's moments as Lua numbers, which keep milliseconds and no finer; cutting
    here makes a timeout's `until` read the same from the reply, the notice and a refusal.
    """
    return timestamp(moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def message_dict(
    message_id: uuid.UUID,
    event_id: uuid.UUID,
    author_id: uuid.UUID,
    author_name: str,
    text: str,
    at: datetime,
) -> dict[str, Any]:
    """A message as clients see it; "id" comes first, which the Redis mirror relies on."""
    return {
        "id": str(message_id),
        "event_id": str(event_id),
        "author": {"id": str(author_id), "name": author_name},
        "text": text,
        "ts": iso(at),
    }


def encode(message: dict[str, Any]) -> str:
    """The compact JSON kept in the Redis mirror."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def from_row(row: Any) -> dict[str, Any]:
    """A stored message as clients see it."""
    return message_dict(
        row["id"],
        row["event_id"],
        row["author_id"],
        row["author_name"],
        row["body"],
        row["created_at"],
    )


def to_row(message: dict[str, Any]) -> store.MessageRow:
    """A mirrored message as a row for PostgreSQL."""
    return (
        uuid.UUID(message["id"]),
        uuid.UUID(message["event_id"]),
        uuid.UUID(message["author"]["id"]),
        message["author"]["name"],
        message["text"],
        datetime.fromisoformat(message["ts"]),
    )
