"""Load loops the benchmarks share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def produce(
    seconds: float, workers: int, act: Callable[[int, int], Awaitable[object]]
) -> int:
    """Run `workers` loops calling act(worker, n) until time is up; return how many finished."""
    deadline = time.monotonic() + seconds
    counts = [0] * workers

    async def loop(i: int) -> None:
        while time.monotonic() < deadline:
            await act(i, counts[i])
            counts[i] += 1

    await asyncio.gather(*(loop(i) for i in range(workers)))
    return sum(counts)
