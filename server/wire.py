"""How replies write values that JSON has no type for: one timestamp format for every route."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `+00:00` offset (fractional seconds only when non-zero)."""
    return moment.astimezone(UTC).isoformat()


def timestamp_or_none(moment: datetime | None) -> str | None:
    """`timestamp`, or None for a missing moment."""
    return None if moment is None else timestamp(moment)
