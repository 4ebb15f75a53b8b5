"""The log's Merkle tree kept as C2SP tlog-tiles (c2sp.org/tlog-tiles).

A tile at level L holds up to 256 consecutive hashes of tree level 8L: level-0 tiles hold
the leaf hashes, SHA-256(0x00 || record hash); a level-1 tile holds the roots of 256 full
level-0 tiles, and so on. The rightmost tile of a level is partial (fewer than 256
hashes) and grows until full; a full tile never changes. Every hash a proof or a tree
head needs at any size is a fold of at most 255 hashes of one tile, so a proof reads
O(log n) tiles of 8 KiB whatever the log's size.

The pure functions here (paths, node arithmetic, folding) need no database: the offline
verifier uses them on tiles fetched over HTTP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from forensics.merkle import EMPTY_ROOT, HASH_SIZE, fold, subtrees

HEIGHT = 8
WIDTH = 1 << HEIGHT
FULL_BYTES = WIDTH * HASH_SIZE

_sha256 = hashlib.sha256

TileId = tuple[int, int]  # (level, index)
TileLoader = Callable[[Sequence[TileId]], Awaitable[Mapping[TileId, bytes]]]


class TileError(ValueError):
    """A tile is missing, too short, or does not match what it must hold."""


def encode_index(index: int) -> str:
    """Return a tile index as path elements: 1234067 becomes x001/x234/067."""
    if index < 0:
        raise ValueError("tile index must not be negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int, index: int, width: int = WIDTH) -> str:
    """Return the tile's path under the log's prefix: tile/<L>/<N>[.p/<W>]."""
    if not 1 <= width <= WIDTH:
        raise ValueError(f"tile width {width} outside 1..{WIDTH}")
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


def level_count(size: int, level: int) -> int:
    """Return how many hashes of tile level `level` a tree of `size` leaves has."""
    return size >> (HEIGHT * level)


def tiles_for_size(size: int) -> list[tuple[int, int, int]]:
    """Return every (level, index, width) tile of the tree of `size` leaves."""
    out = []
    level = 0
    while (count := level_count(size, level)) > 0:
        out += [(level, i, WIDTH) for i in range(count // WIDTH)]
        if count % WIDTH:
            out.append((level, count // WIDTH, count % WIDTH))
        level += 1
    return out


def edge_tiles(size: int) -> list[tuple[int, int, int]]:
    """Return the rightmost tile of each level of the tree of `size` leaves (level, idx, width)."""
    out = []
    level = 0
    while (count := level_count(size, level)) > 0:
        index, width = (count - 1) // WIDTH, (count - 1) % WIDTH + 1
        out.append((level, index, width))
        level += 1
    return out


def tile_root(hashes: bytes) -> bytes:
    """Return the root of a full tile's 256 hashes (the hash one level up)."""
    level = hashes
    while len(level) > HASH_SIZE:
        level = b"".join(
            [
                _sha256(b"\x01" + level[i : i + 2 * HASH_SIZE]).digest()
                for i in range(0, len(level), 2 * HASH_SIZE)
            ]
        )
    return level


def node_location(height: int, index: int) -> tuple[TileId, int, int]:
    """Return where the node of `height` at `index` lives: (tile, first hash, hash count)."""
    level, rest = divmod(height, HEIGHT)
    first = index << rest
    return (level, first >> HEIGHT), first & (WIDTH - 1), 1 << rest


def node_from_tile(tile: bytes, offset: int, count: int) -> bytes:
    """Fold `count` (a power of two) hashes of a tile from `offset` into one node hash."""
    end = (offset + count) * HASH_SIZE
    if len(tile) < end:
        raise TileError(f"tile holds {len(tile) // HASH_SIZE} hashes, {offset + count} needed")
    return tile_root(tile[offset * HASH_SIZE : end])


def tiles_needed(ranges: Iterable[tuple[int, int]]) -> list[TileId]:
    """Return the tiles that hold the hashes of these leaf ranges."""
    wanted: dict[TileId, None] = {}
    for lo, hi in ranges:
        for height, index in subtrees(lo, hi):
            wanted[node_location(height, index)[0]] = None
    return list(wanted)


def range_hashes(ranges: Sequence[tuple[int, int]], tiles: Mapping[TileId, bytes]) -> list[bytes]:
    """Return the Merkle hash of each leaf range, computed from tiles."""
    out = []
    for lo, hi in ranges:
        parts = []
        for height, index in subtrees(lo, hi):
            tile_id, offset, count = node_location(height, index)
            tile = tiles.get(tile_id)
            if tile is None:
                raise TileError(f"tile {tile_id[0]}/{encode_index(tile_id[1])} is missing")
            parts.append(node_from_tile(tile, offset, count))
        out.append(fold(parts))
    return out


async def hashes_of(load: TileLoader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """Return the Merkle hash of each leaf range, reading only the tiles they need."""
    return range_hashes(ranges, await load(tiles_needed(ranges)))


async def root(load: TileLoader, size: int) -> bytes:
    """Return the tree head's root hash at `size` leaves."""
    return (await hashes_of(load, [(0, size)]))[0] if size else EMPTY_ROOT


def grow(size: int, edge: Mapping[int, bytes], leaves: bytes) -> list[tuple[int, int, bytes]]:
    """Return the tiles that change when packed leaf hashes are appended to a tree.

    `edge` maps each level to the hashes of its partial rightmost tile at `size` (absent
    when that level has none). The result lists (level, index, hashes) to store: the
    grown partial tiles and every tile that became full, whose roots feed the next level.
    """
    changed: list[tuple[int, int, bytes]] = []
    new = leaves
    level = 0
    while new:
        count = level_count(size, level)
        base = count // WIDTH
        head = edge.get(level, b"")
        if len(head) != (count % WIDTH) * HASH_SIZE:
            raise TileError(f"level {level} edge tile holds the wrong number of hashes")
        buf = head + new
        roots = []
        for i in range(0, len(buf), FULL_BYTES):
            chunk = buf[i : i + FULL_BYTES]
            changed.append((level, base + i // FULL_BYTES, chunk))
            if len(chunk) == FULL_BYTES:
                roots.append(tile_root(chunk))
        new = b"".join(roots)
        level += 1
    return changed


def leaf_hashes_packed(record_hashes: Iterable[bytes]) -> bytes:
    """Return the packed leaf hashes SHA-256(0x00 || h) of record hashes."""
    return b"".join([_sha256(b"\x00" + h).digest() for h in record_hashes])
