"""Every event type the audit trail accepts, with the fields each must carry.

Adding a type is one line here plus one `audit.log(app, "TYPE", ...)` call where it happens.
Fields hold ids, amounts and reasons only: personal data goes to `forensics.privacy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EventSpec:
    """What a record of one type must name."""

    fields: tuple[str, ...] = ()
    actor: bool = False
    subject: bool = True


def _spec(*fields: str, actor: bool = False, subject: bool = True) -> EventSpec:
    return EventSpec(fields, actor, subject)


CRITICAL_EVENTS: Mapping[str, EventSpec] = {
    # accounts and access
    "USER_REGISTERED": _spec("role", actor=True),
    "USER_LOGIN": _spec(actor=True),
    "USER_LOGIN_FAILED": _spec("reason", subject=False),
    "REFRESH_TOKEN_REUSED": _spec("family"),
    "ROLE_CHANGED": _spec("role", actor=True),
    "DATA_ERASED": _spec("records", actor=True),
    # live events and playback
    "EVENT_CREATED": _spec("price", "currency", actor=True),
    "EVENT_CANCELLED": _spec(actor=True),
    "STREAM_KEY_ROTATED": _spec(actor=True),
    "STREAM_STARTED": _spec("client", actor=True),
    "STREAM_ENDED": _spec("client", actor=True),
    "PLAYBACK_REVOKED": _spec("reason"),
    # money and tickets
    "PAYMENT_COMPLETED": _spec(),
    "PAYMENT_FAILED": _spec(),
    "PAYMENT_REFUNDED_SOLD_OUT": _spec(),
    "SEAT_RELEASED": _spec("reason"),
    "TICKET_ISSUED": _spec(),
    "TICKET_VALIDATED": _spec(),
    "TICKET_REENTERED": _spec("session", actor=True),
    "TICKET_LOCATION_REFUSED": _spec("reason", "distance_miles", actor=True),
    "REPLAY_GRANTED": _spec("session", actor=True),
    "TICKET_REFUNDED": _spec(),
    "TICKET_REVOKED": _spec(),
    "PAYOUT_REQUESTED": _spec("amount", "currency", actor=True),
    "LEDGER_POSTED": _spec("code", "source", "currency", "amount"),
    "PAYOUT_SETTLED": _spec("outcome", "amount", "currency"),
    "PAYOUT_BATCH_EXPORTED": _spec("payouts", actor=True),
    "PAYOUT_ACCOUNT_SET": _spec("method", actor=True),
    "CHAIN_CREDITED": _spec("wallet", "amount", "tx_hash", "already_credited"),
    # moderation
    "CHAT_MESSAGE_DELETED": _spec(actor=True),
    "CHAT_MESSAGE_PINNED": _spec(actor=True),
    "CHAT_MESSAGE_UNPINNED": _spec(actor=True),
    "CHAT_SLOW_MODE_SET": _spec(actor=True),
    "CHAT_MODERATOR_ASSIGNED": _spec(actor=True),
    "CHAT_MODERATOR_REMOVED": _spec(actor=True),
    "USER_TIMED_OUT": _spec(actor=True),
    "USER_BANNED": _spec(actor=True),
    "USER_UNBANNED": _spec(actor=True),
    "USER_STRIKE_ISSUED": _spec("reason", actor=True),
    "DMCA_APPROVED": _spec("claim", actor=True),
    # the trail itself
    "CHECKPOINT_CREATED": _spec("tree_size", "root", subject=False),
    "EXPORT_CREATED": _spec("first", "last", subject=False),
}


class UnknownEvent(ValueError):
    """An event type or its fields do not match the registry."""


def check(event_type: str, actor: str | None, subject: str | None, data: Mapping[str, Any]) -> None:
    """Raise UnknownEvent unless the record matches its type's spec."""
    spec = CRITICAL_EVENTS.get(event_type)
    if spec is None:
        raise UnknownEvent(f"unknown forensic event type {event_type!r}")
    if spec.actor and not actor:
        raise UnknownEvent(f"{event_type} needs an actor")
    if spec.subject and not subject:
        raise UnknownEvent(f"{event_type} needs a subject")
    missing = [name for name in spec.fields if name not in data]
    if missing:
        raise UnknownEvent(f"{event_type} is missing {', '.join(missing)}")
