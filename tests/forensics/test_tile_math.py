"""Tiles in memory: paths as C2SP tlog-tiles spells them, and every proof, root and tile
grown batch by batch equal to the full in-memory rebuild (property test)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics import tiles
from forensics.merkle import (
    MerkleTree,
    consistency_ranges,
    inclusion_ranges,
    verify_consistency,
    verify_inclusion,
)


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 0, 256, "tile/0/000"),
        (0, 1234067, 256, "tile/0/x001/x234/067"),
        (1, 1234067, 8, "tile/1/x001/x234/067.p/8"),
        (2, 999, 1, "tile/2/999.p/1"),
        (0, 1000, 256, "tile/0/x001/000"),
        (3, 1_000_000, 255, "tile/3/x001/x000/000.p/255"),
    ],
)
def test_paths_follow_tlog_tiles(level: int, index: int, width: int, path: str) -> None:
    assert tiles.tile_path(level, index, width) == path


@pytest.mark.parametrize("width", [0, 257, -1])
def test_bad_widths_have_no_path(width: int) -> None:
    with pytest.raises(ValueError):
        tiles.tile_path(0, 0, width)


def leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(n)]


def grown(batches: list[int]) -> tuple[int, dict[tiles.TileId, bytes]]:
    """Grow tiles batch by batch, as the writer does; return the size and stored tiles."""
    stored: dict[tiles.TileId, bytes] = {}
    size = 0
    all_leaves = leaves(sum(batches))
    for n in batches:
        edge = {
            lv: stored.get((lv, idx), b"")
            for lv, idx, width in tiles.edge_tiles(size)
            if width < tiles.WIDTH
        }
        for level, idx, hashes in tiles.grow(size, edge, b"".join(all_leaves[size : size + n])):
            old = stored.get((level, idx), b"")
            assert hashes.startswith(old)  # a tile only grows
            assert len(old) < tiles.FULL_BYTES or hashes == old  # full tiles never change
            stored[(level, idx)] = hashes
        size += n
    return size, stored


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.integers(1, 700), min_size=1, max_size=12),
    picks=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=8),
)
def test_proofs_from_tiles_equal_a_full_rebuild(
    batches: list[int], picks: list[tuple[float, float]]
) -> None:
    size, stored = grown(batches)
    tree = MerkleTree(leaves(size))
    expected_tiles = {
        (lv, idx): tree.level(tiles.HEIGHT * lv, idx * tiles.WIDTH, width)
        for lv, idx, width in tiles.tiles_for_size(size)
    }
    assert stored == expected_tiles
    for a, b in picks:
        n = max(1, round(b * size))
        index = min(n - 1, int(a * n))
        m = max(1, min(n, round(a * n)))
        got = tiles.range_hashes(
            [*inclusion_ranges(index, n), (0, n), *consistency_ranges(m, n), (0, m)], stored
        )
        inc_len = len(inclusion_ranges(index, n))
        assert got[:inc_len] == tree.inclusion_proof(index, n)
        assert got[inc_len] == tree.root(n)
        assert got[inc_len + 1 : -1] == tree.consistency_proof(m, n)
        assert got[-1] == tree.root(m)
        verify_inclusion(index, n, tree.leaf(index), got[:inc_len], got[inc_len])
        verify_consistency(m, n, got[inc_len + 1 : -1], got[-1], got[inc_len])


def test_a_proof_reads_few_tiles_at_a_million_leaves() -> None:
    n = 1_000_000
    needed = tiles.tiles_needed([*inclusion_ranges(123_457, n), (0, n)])
    assert len(needed) <= 3 * 4  # a few tiles per level, three levels


def test_missing_or_short_tile_is_an_error() -> None:
    size, stored = grown([600])
    del stored[(0, 1)]
    with pytest.raises(tiles.TileError):
        tiles.range_hashes(inclusion_ranges(300, size), stored)
    _, stored = grown([600])
    stored[(0, 2)] = stored[(0, 2)][:32]
    with pytest.raises(tiles.TileError):
        tiles.range_hashes([(0, size)], stored)
