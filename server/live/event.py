"""The typed event other packages receive: the live_events row and its rules in one place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.accounts.tokens import Principal
from server.wire import timestamp, timestamp_or_none

# Tickets sell, tickets admit and holds stay while an event is in one of these states.
OPEN = ("scheduled", "live")


@dataclass(frozen=True, slots=True)
class Event:
    """A live event as read from its table (never its stream key)."""

    id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    description: str
    starts_at: datetime
    price_minor: int
    currency: str
    capacity: int | None
    replay_access: bool
    status: str
    publishing: bool
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Event:
        """An event from a live_events row selected with the store's columns."""
        return cls(
            id=row["id"],
            artist_id=row["artist_id"],
            title=row["title"],
            description=row["description"],
            starts_at=row["starts_at"],
            price_minor=row["price_minor"],
            currency=row["currency"].strip(),
            capacity=row["capacity"],
            replay_access=row["replay_access"],
            status=row["status"],
            publishing=bool(row["publishing"]),
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            created_at=row["created_at"],
        )

    @property
    def is_free(self) -> bool:
        """Anyone may watch a free event; it sells no tickets."""
        return self.price_minor == 0

    @property
    def is_cancelled(self) -> bool:
        """Cancelled before it started; nobody watches it."""
        return self.status == "cancelled"

    @property
    def is_open(self) -> bool:
        """Still open: scheduled or live, so tickets sell and admit."""
        return self.status in OPEN

    def is_run_by(self, principal: Principal) -> bool:
        """The event's artist or platform staff (moderators, admins): they need no ticket."""
        return self.artist_id == principal.user_id or principal.is_staff

    def is_managed_by(self, principal: Principal) -> bool:
        """The event's artist or an admin: they may edit, cancel and refund."""
        return self.artist_id == principal.user_id or principal.is_admin

    def to_json(self) -> dict[str, Any]:
        """The event as the API shows it."""
        return {
            "id": str(self.id),
            "artist_id": str(self.artist_id),
            "title": self.title,
            "description": self.description,
            "starts_at": timestamp(self.starts_at),
            "price": self.price_minor,
            "currency": self.currency,
            "capacity": self.capacity,
            "replay_access": self.replay_access,
            "status": self.status,
            "publishing": self.publishing,
            "started_at": timestamp_or_none(self.started_at),
            "ended_at": timestamp_or_none(self.ended_at),
            "created_at": timestamp(self.created_at),
        }
