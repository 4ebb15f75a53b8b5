"""Request and reply bodies of the playback routes."""

from __future__ import annotations

import uuid

from server.api import Body, Reply


class PlaybackIn(Body):
    """Send a session id to renew that session; send nothing to open one."""

    session_id: uuid.UUID | None = None


class PlaybackGrant(Reply):
    """A signed playback token and the playlist URL that carries it."""

    token: str
    url: str
    session_id: uuid.UUID
    event_id: uuid.UUID
    expires_at: int
    expires_in: int


class Revoked(Reply):
    """Sessions ended by this call."""

    revoked: list[uuid.UUID]
