"""JSON shapes of tickets as the API shows them."""

from __future__ import annotations

from typing import Any

from server.wire import timestamp, timestamp_or_none

# Internal statuses as clients see them.
PUBLIC_STATUS = {
    "reserved": "reserved",
    "paid": "valid",
    "refunding": "refunding",
    "released": "released",
    "refunded": "refunded",
    "revoked": "revoked",
}
# Close reasons stored before the API settled on one spelling, as clients see them now.
PUBLIC_REASON = {"payment_canceled": "payment_cancelled"}


def ticket_json(row: Any) -> dict[str, Any]:
    """A ticket for its owner: ids, state and price; nothing personal."""
    return {
        "id": str(row["id"]),
        "event_id": str(row["event_id"]),
        "status": PUBLIC_STATUS[row["status"]],
        "price": row["amount_minor"],
        "currency": row["currency"].strip(),
        "replay_access": row["replay_access"],
        "provider": row["provider"],
        "reserved_until": (
            timestamp_or_none(row["reserved_until"]) if row["status"] == "reserved" else None
        ),
        "paid_at": timestamp_or_none(row["paid_at"]),
        "admitted_at": timestamp_or_none(row["admitted_at"]),
        "closed_at": timestamp_or_none(row["closed_at"]),
        "close_reason": PUBLIC_REASON.get(row["close_reason"], row["close_reason"]),
        "created_at": timestamp(row["created_at"]),
    }
