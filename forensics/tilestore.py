"""SQL for forensic_tiles, and keeping the tiles level with the log.

Appends extend the tiles in the same transaction as the records, under the append lock,
so a committed record is always covered. Records that reached the log without tiles (a
log from before tiles existed, or rows written by other means) are taken in first by the
next append, by `catch_up` at start, or by `mhc forensics build-tiles`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import asyncpg

from forensics import store, tiles
from forensics.merkle import HASH_SIZE

CATCH_UP_CHUNK = 65536


async def size(conn: asyncpg.Connection) -> int:
    """The number of leaves the tiles cover."""
    row = await conn.fetchrow(
        "SELECT idx, length(hashes) AS n FROM forensic_tiles WHERE level = 0 ORDER BY idx DESC LIMIT 1"
    )
    return 0 if row is None else row["idx"] * tiles.WIDTH + row["n"] // HASH_SIZE


async def load(conn: asyncpg.Connection, ids: Sequence[tiles.TileId]) -> dict[tiles.TileId, bytes]:
    """The stored hashes of these tiles (missing ones are absent)."""
    if not ids:
        return {}
    rows = await conn.fetch(
        """SELECT t.level, t.idx, t.hashes FROM forensic_tiles t
           JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx)
             ON t.level = w.level AND t.idx = w.idx""",
        [i[0] for i in ids],
        [i[1] for i in ids],
    )
    return {(r["level"], r["idx"]): bytes(r["hashes"]) for r in rows}


def loader(conn: asyncpg.Connection) -> tiles.TileLoader:
    """A tile loader reading through one connection."""

    async def _load(ids: Sequence[tiles.TileId]) -> Mapping[tiles.TileId, bytes]:
        return await load(conn, ids)

    return _load


async def extend(conn: asyncpg.Connection, at: int, leaves: bytes) -> list[tuple[int, int, bytes]]:
    """Append packed leaf hashes to a tree of `at` leaves (under the append lock)."""
    partial = [(lv, idx) for lv, idx, width in tiles.edge_tiles(at) if width < tiles.WIDTH]
    stored = await load(conn, partial)
    edge: dict[int, bytes] = {}
    for level, idx in partial:
        width = tiles.level_count(at, level) % tiles.WIDTH
        # A stored tile longer than the tree is the tree of a rolled-back or forged append.
        edge[level] = stored.get((level, idx), b"")[: width * HASH_SIZE]
    changed = tiles.grow(at, edge, leaves)
    await conn.executemany(
        """INSERT INTO forensic_tiles (level, idx, hashes) VALUES ($1, $2, $3)
           ON CONFLICT (level, idx) DO UPDATE SET hashes = EXCLUDED.hashes""",
        changed,
    )
    return changed


async def catch_up(
    conn: asyncpg.Connection, log_size: int, limit: int | None = None
) -> tuple[int, list[tuple[int, int, bytes]]]:
    """Cover records the tiles lack, up to `limit` of them; return the new size and tiles.

    The caller holds the append lock, so nobody else extends the tiles meanwhile.
    """
    covered = await size(conn)
    if covered > log_size:
        raise tiles.TileError(f"tiles cover {covered} leaves but the log has {log_size}")
    changed: list[tuple[int, int, bytes]] = []
    end = log_size if limit is None else min(log_size, covered + limit)
    while covered < end:
        last = min(end, covered + CATCH_UP_CHUNK)
        hashes = await store.hashes_between(conn, covered + 1, last)
        if len(hashes) != last - covered:
            raise tiles.TileError(f"records {covered + 1}..{last} are not all in the log")
        changed += await extend(conn, covered, tiles.leaf_hashes_packed(hashes))
        covered = last
    return covered, changed


async def iter_tiles(conn: asyncpg.Connection) -> AsyncIterator[tuple[int, int, bytes]]:
    """Every stored tile as (level, idx, hashes) (use inside a transaction)."""
    async for row in conn.cursor(
        "SELECT level, idx, hashes FROM forensic_tiles ORDER BY level, idx", prefetch=256
    ):
        yield row["level"], row["idx"], bytes(row["hashes"])


async def widths(conn: asyncpg.Connection) -> list[tuple[int, int, int]]:
    """Every stored tile as (level, idx, width), without its hashes."""
    rows = await conn.fetch("SELECT level, idx, length(hashes) / 32 AS w FROM forensic_tiles")
    return [(r["level"], r["idx"], r["w"]) for r in rows]
