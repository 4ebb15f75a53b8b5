"""Revenue split of a sale in integer minor units.

Rule: platform and payment processing each get floor(10% of the price); the artist gets the
rest. The artist therefore receives 80% plus any remainder cents (at most 2 minor units), and
the three parts always sum to the price exactly. 2.99 -> artist 2.41, platform 0.29,
processing 0.29; 9.99 -> 8.01, 0.99, 0.99; 99.99 -> 80.01, 9.99, 9.99.
"""

from __future__ import annotations

from dataclasses import dataclass

PLATFORM_BPS = 1000  # 10.00 %
PROCESSING_BPS = 1000  # 10.00 %
ARTIST_BPS = 10_000 - PLATFORM_BPS - PROCESSING_BPS  # 80.00 %, plus the remainder

RULE = (
    "platform and processing each take floor(10% of the price) in minor units; "
    "the artist gets the rest (80% plus any remainder), so the parts sum to the price"
)


@dataclass(frozen=True)
class Split:
    """One sale's parts, in minor units of the sale's currency."""

    price: int
    artist: int
    platform: int
    processing: int


def split(price_minor: int) -> Split:
    """Split a non-negative price; the parts sum to it."""
    if isinstance(price_minor, bool) or not isinstance(price_minor, int) or price_minor < 0:
        raise ValueError("price must be a non-negative integer in minor units")
    platform = price_minor * PLATFORM_BPS // 10_000
    processing = price_minor * PROCESSING_BPS // 10_000
    return Split(price_minor, price_minor - platform - processing, platform, processing)
