"""JSON shapes of tickets as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Internal statuses as clients see them.
PUBLIC_STATUS = {"reserved": "reserved", "paid": "valid", "refunding": "refunding",
                 "released": "released", "refunded": "refunded", "revoked": "revoked"}


def iso(value: datetime | None) -> str | None:
    """ISO 8601 or None."""
    return None if value is None else value.isoformat()


def ticket_json(row: Any) -> dict[str, Any]:
    """A ticket for its owner: ids, state and price; nothing personal."""
    return {
        "id": str(row["id"]), "event_id": str(row["event_id"]),
        "status": PUBLIC_STATUS[row["status"]],
        "price": row["amount_minor"], "currency": row["currency"].strip(),
        "replay_access": row["replay_access"], "provider": row["provider"],
        "reserved_until": iso(row["reserved_until"]) if row["status"] == "reserved" else None,
        "paid_at": iso(row["paid_at"]), "admitted_at": iso(row["admitted_at"]),
        "closed_at": iso(row["closed_at"]), "close_reason": row["close_reason"],
        "created_at": iso(row["created_at"]),
    }
