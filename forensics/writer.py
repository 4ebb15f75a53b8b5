"""Group-committed appends: concurrent callers share one transaction per batch.

Each batch takes a transaction-scoped advisory lock, reads the chain's tail, and inserts
its records with contiguous seqs after it. Processes serialize on that lock, so there is
one chain and no fork; a writer that dies mid-batch rolls back whole, so there is no gap.
Callers await their record's commit: nothing is reported done before it is durable.
The same transaction extends the Merkle tiles (forensics.tiles), so the tiles always
cover exactly the committed log; full tiles then go to the static files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client import Counter, Histogram

from forensics import store, tilefiles, tiles, tilestore
from forensics.chain import EncodingError, Record, record_hash
from server.clock import Clock

log = logging.getLogger(__name__)
APPENDED = Counter("mhc_forensic_records_total", "Records appended to the forensic log")
BATCH = Histogram(
    "mhc_forensic_batch_size",
    "Records per forensic append transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)


@dataclass
class _Pending:
    event_type: str
    actor: str | None
    subject: str | None
    data: Mapping[str, Any]
    key: uuid.UUID | None = None  # an outbox key: appended at most once
    done: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class LogWriter:
    """Appends records to the forensic log in batches, from one background task."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        max_batch: int = 512,
        log_dir: Path | None = None,
    ) -> None:
        self._pool = pool
        self._log_dir = log_dir
        self._clock = clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin draining the queue."""
        self._task = asyncio.create_task(self._run(), name="forensic-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def append(
        self,
        event_type: str,
        actor: str | None,
        subject: str | None,
        data: Mapping[str, Any],
        key: uuid.UUID | None = None,
    ) -> int:
        """Append one record; returns its seq once committed. With `key`, a record already
        appended under that key is not appended again (its seq is returned). A record the
        chain cannot encode is refused (EncodingError) and takes no seq; the rest of its
        batch is appended."""
        if self._task is None:
            raise RuntimeError("forensic writer is not running")
        pending = _Pending(event_type, actor, subject, data, key)
        await self._queue.put(pending)
        return await pending.done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                seqs, changed = await self._write(batch)
            except Exception as exc:  # the callers learn of it; the writer lives on
                log.exception("forensic append of %d records failed", len(batch))
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
            else:
                for item, seq in zip(batch, seqs, strict=True):
                    if item.done.done():
                        continue
                    if isinstance(seq, EncodingError):
                        item.done.set_exception(seq)
                    else:
                        item.done.set_result(seq)
                await self._write_files(changed)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write_files(self, changed: list[tuple[int, int, bytes]]) -> None:
        if self._log_dir is None or not any(len(h) == tiles.FULL_BYTES for _, _, h in changed):
            return
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, tilefiles.write_full, self._log_dir, changed
            )
        except OSError:  # the database holds them; the next start rewrites what is missing
            log.exception("writing forensic tile files failed")

    async def _write(
        self, batch: list[_Pending]
    ) -> tuple[list[int | EncodingError], list[tuple[int, int, bytes]]]:
        async with self._pool.acquire() as conn, conn.transaction():
            seq, prev = await store.lock_and_tail(conn)
            # Records the tiles lack (written before tiles existed) are covered first.
            _, changed = await tilestore.catch_up(conn, seq)
            tree_size = seq
            # Under the lock, so a key cannot be appended by two batches at once.
            keys = [item.key for item in batch if item.key is not None]
            seen = await store.outbox_seqs(conn, keys) if keys else {}
            now = self._clock.now()
            rows = []
            seqs: list[int | EncodingError] = []
            remembered: list[tuple[uuid.UUID, int]] = []
            for item in batch:
                if item.key is not None and item.key in seen:
                    seqs.append(seen[item.key])
                    continue
                data = dict(item.data)
                record = Record(seq + 1, now, item.event_type, item.actor, item.subject, data, prev)
                try:
                    # The one encoding of the record: its hash input. Data that cannot be
                    # encoded is refused here, for its caller only.
                    digest = record_hash(record)
                except EncodingError as exc:
                    seqs.append(exc)
                    continue
                seq += 1
                seqs.append(seq)
                if item.key is not None:
                    seen[item.key] = seq
                    remembered.append((item.key, seq))
                rows.append(
                    (seq, now, item.event_type, item.actor, item.subject, data, prev, digest)
                )
                prev = digest
            if rows:
                await store.insert_records(conn, rows)
                leaves = tiles.leaf_hashes_packed(r[7] for r in rows)
                changed += await tilestore.extend(conn, tree_size, leaves)
            if remembered:
                await store.remember_outbox(conn, remembered)
        APPENDED.inc(len(rows))
        BATCH.observe(len(rows))
        return seqs, changed
