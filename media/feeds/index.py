"""The feed index: what the feeds rank, kept in step with the videos.

This is the interface the video service calls in its own transactions; the ranking that
fills it lives with the feeds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class FeedEntry:
    """A ready video as the feeds see it."""

    video_id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    realm: str
    visibility: str
    tags: tuple[str, ...]
    duration_s: float | None
    published_at: datetime


async def index(conn: asyncpg.Connection, entry: FeedEntry) -> None:
    """Add or update a video in the feeds (nothing is ranked yet)."""


async def unindex(conn: asyncpg.Connection, video_id: uuid.UUID) -> None:
    """Take a video out of the feeds (nothing is ranked yet)."""
