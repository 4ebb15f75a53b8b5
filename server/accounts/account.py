"""The typed account other packages receive: a users row without its secrets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.accounts.tokens import STAFF_ROLES


@dataclass(frozen=True, slots=True)
class Account:
    """A user as read from the users table (never the password hash)."""

    id: uuid.UUID
    email: str
    display_name: str
    role: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Account:
        """An account from a users row selected with the store's USER_COLUMNS."""
        return cls(
            id=row["id"],
            email=row["email"],
            display_name=row["display_name"],
            role=row["role"],
            created_at=row["created_at"],
        )

    @property
    def is_staff(self) -> bool:
        """Moderators and admins act on every event."""
        return self.role in STAFF_ROLES
