"""Helpers of the engagement tests: artists with videos, views from devices."""

from __future__ import annotations

import uuid
from typing import Any

from media.engagement import service
from server.keys import DB
from tests.conftest import Api
from tests.videos import ready_video


async def artist_with_video(api: Api, **meta: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh artist and one ready video of theirs."""
    artist = await api.register("artist")
    video = await ready_video(api, artist["access"], **meta)
    return artist, video


async def view(
    api: Api, video_id: str, *, token: str | None = None, device: str | None = None
) -> tuple[int, Any]:
    """POST a view, as a user (token) or an anonymous device."""
    headers = {"X-Device-Id": device} if device else None
    return await api.call(
        "POST", f"/api/recommendation/video/{video_id}/view", token=token, headers=headers
    )


async def counts(api: Api, video_id: str) -> service.VideoCounts:
    """The video's counters through engagement's public function."""
    async with api.app[DB].acquire() as conn:
        return await service.counts(conn, uuid.UUID(video_id))


def device() -> str:
    """A fresh device id."""
    return f"dev-{uuid.uuid4().hex}"
