"""Admissions that arrive together are made in one statement: the doors at show start.

Each validation still gets its own answer; what is shared is the statement's round trip and
commit, as the forensic writer and the ledger share theirs. If a shared statement fails (a
deadlock with another process's batch over the same tickets, say), each admission is tried
alone, so none fails for another's sake.
"""

from __future__ import annotations

import asyncpg

from server.batching import Batcher
from ticketing import store


class Admissions:
    """Tries the admissions asked for during one turn of the event loop in one statement."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._batch: Batcher[store.Admit, bool | Exception] = Batcher(self._admit)

    async def admit(self, admit: store.Admit) -> bool:
        """Whether this admission was made (the ticket admitted, its session opened)."""
        result = await self._batch.get(admit)
        if isinstance(result, Exception):
            raise result
        return bool(result)

    async def _admit(self, admits: list[store.Admit]) -> dict[store.Admit, bool | Exception]:
        try:
            async with self._pool.acquire() as conn:
                made = await store.admit_and_open(conn, admits)
            return {a: a.session_id in made for a in admits}
        except asyncpg.PostgresError:
            if len(admits) == 1:
                raise
        results: dict[store.Admit, bool | Exception] = {}
        for admit in admits:
            try:
                async with self._pool.acquire() as conn:
                    made = await store.admit_and_open(conn, [admit])
                results[admit] = admit.session_id in made
            except asyncpg.PostgresError as exc:
                results[admit] = exc
        return results
