"""A clock the app reads time from, so tests can move time forward through the real app."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock UTC time plus an offset that only tests change."""

    def __init__(self) -> None:
        self._offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time() + self._offset

    def now(self) -> datetime:
        """Aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move this clock forward (tests only)."""
        self._offset += seconds
