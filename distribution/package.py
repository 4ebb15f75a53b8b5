"""What a built release package is: the folder handed to delivery, one per DSP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class PackageFile:
    """One file of a package: its path inside the release folder, size and MD5 (hex)."""

    relpath: str
    size: int
    md5: str


@dataclass(frozen=True)
class ReleasePackage:
    """One ERN message and its resources, built for one DSP."""

    release_id: uuid.UUID
    dsp: str
    message_id: str
    folder: Path
    message_file: str
    files: tuple[PackageFile, ...]
    kind: Literal["insert", "update", "takedown"]
