"""Write-once storage for export bundles.

`ImmutableStore` is the interface; `LocalWormStore` is a directory that never overwrites
and leaves files read-only. An S3 Object Lock backend implements the same two methods
(put with a retention date in compliance mode, get) and plugs in through config.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol


class AlreadyExists(FileExistsError):
    """Write-once storage refuses to replace an object."""


class ImmutableStore(Protocol):
    """Objects that, once written, cannot be changed or removed through this interface."""

    def put(self, name: str, source: Path) -> str:
        """Store a file under a new name; returns its location. Never overwrites."""

    def open(self, location: str) -> Path:
        """A local path to read a stored object."""


class LocalWormStore:
    """A directory where each object is written once, fsynced, and left read-only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, name: str, source: Path) -> str:
        """Copy `source` in as `name` with O_EXCL, so an existing object is never replaced."""
        if "/" in name or name.startswith("."):
            raise ValueError(f"bad object name {name!r}")
        target = self.root / name
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            raise AlreadyExists(f"{name} already stored") from None
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return str(target)

    def open(self, location: str) -> Path:
        """The stored file, which must lie inside this store."""
        path = Path(location).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("location outside the store")
        return path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
