"""Work asked for during one turn of the event loop, done once for all who asked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """Collects keys requested during one turn of the loop and fetches them in one call."""

    def __init__(self, fetch: Callable[[list[K]], Awaitable[dict[K, V]]]) -> None:
        self._fetch = fetch
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._scheduled = False

    async def get(self, key: K) -> V | None:
        """The value for `key` (None when the fetch did not return it)."""
        fut: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(fut)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)
        return await fut

    def _start(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, {}
        task = asyncio.get_running_loop().create_task(self._run(waiting))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)

    async def _run(self, waiting: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            found = await self._fetch(list(waiting))
        except BaseException as exc:
            for futs in waiting.values():
                for fut in futs:
                    if not fut.done():
                        fut.set_exception(
                            exc if isinstance(exc, Exception) else RuntimeError("lookup cancelled")
                        )
            if not isinstance(exc, Exception):
                raise
            return
        for key, futs in waiting.items():
            for fut in futs:
                if not fut.done():
                    fut.set_result(found.get(key))


_TASKS: set[asyncio.Task[None]] = set()
