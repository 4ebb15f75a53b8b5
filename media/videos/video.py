"""The video as other packages see it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Realm = Literal["inferno", "purgatorio", "paradiso"]
Visibility = Literal["public", "followers", "subscribers", "private"]
VideoState = Literal["uploading", "processing", "ready", "failed"]
REALMS: tuple[str, ...] = get_args(Realm)
VISIBILITIES: tuple[str, ...] = get_args(Visibility)


@dataclass(frozen=True)
class Video:
    """One video (never a deleted one)."""

    id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    description: str
    tags: tuple[str, ...]
    realm: Realm
    visibility: Visibility
    state: VideoState
    progress: int  # 0..100
    failure: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    created_at: datetime
    ready_at: datetime | None
