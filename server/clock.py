"""A clock the app reads time from, so tests can move time forward through the real app."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock UTC time plus an offset that only tests change."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None

    def time(self) -> float:
        """Seconds since the epoch."""
        if self._frozen is not None:
            return self._frozen
        return time.time() + self._offset

    def now(self) -> datetime:
        """Aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move this clock forward (tests only)."""
        self._offset += seconds
        if self._frozen is not None:
            self._frozen += seconds

    def freeze(self) -> None:
        """Stop this clock where it is until `thaw` (tests only: a burst measured against a
        refill rate must not depend on how busy the machine is)."""
        self._frozen = self.time()

    def thaw(self) -> None:
        """Let this clock run again from where it was frozen."""
        if self._frozen is not None:
            self._offset = self._frozen - time.time()
            self._frozen = None
