"""The trending score: exponentially decayed engagement, kept in the log domain.

A video's heat at time `now` is the sum over its engagements of `weight * 2^-(age / HALF_LIFE)`.
Stored as `hot = ln(sum of weight * e^((t - T0) / TAU))` with TAU = HALF_LIFE / ln 2, every
video's heat is divided by the same `e^((now - T0) / TAU)`, so ordering by `hot` is ordering by
heat at any `now`: a new engagement only raises one row's `hot` (a log-add-exp), and nothing
is ever rescored as time passes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

HALF_LIFE_S = 24 * 3600.0
TAU = HALF_LIFE_S / math.log(2)
T0 = datetime(2025, 1, 1, tzinfo=UTC)

# Weights: what one engagement is worth, in views.
PUBLISH = 4.0  # a fresh video starts as if four people had just viewed it
VIEW = 1.0
LIKE = 3.0
WATCH_PER_SECOND = 1.0 / 120  # two minutes watched are worth one view


def term(weight: float, at: datetime) -> float:
    """The log-domain value of one engagement of `weight` at `at`."""
    return math.log(weight) + (at - T0).total_seconds() / TAU


def current(hot: float, now: datetime) -> float:
    """The heat `hot` stands for at `now`, in views (for display)."""
    exponent = hot - (now - T0).total_seconds() / TAU
    return math.exp(min(exponent, 700.0))
