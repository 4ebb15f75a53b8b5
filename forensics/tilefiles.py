"""The tiles and the latest checkpoint as static files, for nginx to serve at /log/.

Files are written atomically (a temporary name, then rename), so a reader never sees a
torn tile. Full tiles never change, so rewriting one is harmless; partial tiles are
written only for sizes that a checkpoint publishes and dropped once the tile is full.
The database is the source of truth: missing or stale files are rewritten from it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from forensics import tiles
from forensics.merkle import HASH_SIZE

CHECKPOINT = "checkpoint"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_full(log_dir: Path, changed: Iterable[tuple[int, int, bytes]]) -> int:
    """Write the full tiles among `changed`; return how many were written."""
    n = 0
    for level, idx, hashes in changed:
        if len(hashes) != tiles.FULL_BYTES:
            continue
        _write(log_dir / tiles.tile_path(level, idx), hashes)
        partials = log_dir / (tiles.tile_path(level, idx) + ".p")
        shutil.rmtree(partials, ignore_errors=True)
        n += 1
    return n


def write_edge(log_dir: Path, size: int, stored: Mapping[tiles.TileId, bytes]) -> None:
    """Write the rightmost tile of every level of the tree of `size` leaves."""
    for level, idx, width in tiles.edge_tiles(size):
        data = stored[(level, idx)][: width * HASH_SIZE]
        if len(data) != width * HASH_SIZE:
            raise tiles.TileError(f"tile {level}/{idx} is shorter than the tree of size {size}")
        _write(log_dir / tiles.tile_path(level, idx, width), data)


def publish_checkpoint(log_dir: Path, size: int, note: str) -> bool:
    """Write `note` as the log's checkpoint unless a larger one is already published."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / ".checkpoint.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = log_dir / CHECKPOINT
        if path.exists():
            lines = path.read_text(encoding="utf-8").split("\n")
            if len(lines) > 1 and lines[1].isdigit() and int(lines[1]) > size:
                return False
        _write(path, note.encode())
        return True


def missing_full(log_dir: Path, stored: Iterable[tuple[int, int, int]]) -> list[tiles.TileId]:
    """The full tiles the database has and the directory lacks (or holds damaged)."""
    out = []
    for level, idx, width in stored:
        if width != tiles.WIDTH:
            continue
        path = log_dir / tiles.tile_path(level, idx)
        try:
            if path.stat().st_size == tiles.FULL_BYTES:
                continue
        except FileNotFoundError:
            pass
        out.append((level, idx))
    return out


def read(log_dir: Path, level: int, idx: int, width: int) -> bytes | None:
    """The bytes of a tile file, or None when it is absent."""
    try:
        return (log_dir / tiles.tile_path(level, idx, width)).read_bytes()
    except FileNotFoundError:
        return None
