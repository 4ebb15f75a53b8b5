"""Batched persistence of chat messages, so PostgreSQL round trips never pace the chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from server.chat import store
from server.chat.metrics import BATCH_SIZE, PERSIST_DROPPED, PERSISTED

log = logging.getLogger(__name__)

# Past this many unwritten messages (PostgreSQL down for a long while) the oldest are dropped
# rather than letting memory grow without bound; they were already delivered and mirrored.
MAX_PENDING = 100_000
_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class MessageWriter:
    """Collects messages and writes them in batches every `interval` seconds."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], interval: float, batch: int) -> None:
        self._pool = pool
        self._interval = interval
        self._batch = batch
        self._pending: list[store.MessageRow] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def enqueue(self, row: store.MessageRow) -> None:
        """Queue a message for the next batch (never blocks)."""
        if len(self._pending) >= MAX_PENDING:
            del self._pending[0]
            PERSIST_DROPPED.inc()
        self._pending.append(row)
        self._wake.set()

    async def _write(self, rows: list[store.MessageRow]) -> None:
        async with self._pool().acquire() as conn:
            try:
                await store.insert_messages(conn, rows)
                PERSISTED.inc(len(rows))
                return
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError):
                if len(rows) == 1:
                    raise
            # One bad row must not sink its neighbours: retry them one by one.
            for row in rows:
                try:
                    await store.insert_messages(conn, [row])
                    PERSISTED.inc()
                except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                    PERSIST_DROPPED.inc()
                    log.error("dropping chat message %s: %s", row[0], type(exc).__name__)

    async def flush(self) -> None:
        """Write everything queued so far (used at shutdown, by tests and by the loop)."""
        async with self._lock:
            attempt = 0
            while self._pending:
                rows = self._pending[: self._batch]
                del self._pending[: self._batch]
                try:
                    await self._write(rows)
                except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                    PERSIST_DROPPED.inc(len(rows))
                    log.error("dropping chat message %s: %s", rows[0][0], type(exc).__name__)
                except asyncio.CancelledError:
                    # Cancelled mid-write (shutdown): keep the batch for the final flush; a
                    # batch that did land is harmless to insert again.
                    self._pending[:0] = rows
                    raise
                except Exception as exc:  # noqa: BLE001 - logged below; the batch is retried
                    # Put the batch back in front so order is kept, and retry after a pause.
                    self._pending[:0] = rows
                    delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
                    attempt += 1
                    log.warning(
                        "chat batch of %d failed (%s); retrying in %.1fs",
                        len(rows),
                        type(exc).__name__,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                BATCH_SIZE.observe(len(rows))
                attempt = 0

    async def run(self) -> None:
        """Write batches until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Waiting one interval lets a burst gather into one statement.
            await asyncio.sleep(self._interval)
            await self.flush()
