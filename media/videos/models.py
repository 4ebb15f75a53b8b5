"""Request and reply bodies of the video routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field

from media.videos.video import Realm, VideoState, Visibility
from server.api import Body, Query, Reply
from server.validate import Clean, IsoTime, QueryInt

Title = Annotated[str, Clean(1, 200)]
Description = Annotated[str, Clean(0, 5000, multiline=True)]
Tag = Annotated[str, Clean(1, 40)]


class VideoEdit(Body):
    """Metadata the artist changes; fields left out stay as they are."""

    title: Title | None = None
    description: Description | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    realm: Realm | None = None
    visibility: Visibility | None = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, tags deduplicated in their order."""
        out = self.model_dump(exclude_none=True)
        if "tags" in out:
            out["tags"] = list(dict.fromkeys(t.lower() for t in out["tags"]))
        return out


class VideoOut(Reply):
    """A video and where its processing stands."""

    id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    description: str
    tags: list[str]
    realm: Realm
    visibility: Visibility
    state: VideoState
    progress: int = Field(ge=0, le=100)
    failure: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    poster_url: str | None
    created_at: IsoTime
    ready_at: IsoTime | None
    likes: int
    views: int


class VideoPage(Reply):
    """A page of videos, newest first, and the cursor of the next page (null at the end)."""

    items: list[VideoOut]
    next: str | None


class PageQuery(Query):
    """Keyset paging: `cursor` from the previous page's `next`."""

    cursor: str | None = Field(default=None, max_length=200)
    limit: Annotated[int, QueryInt, Field(ge=1, le=50)] = 20


class VodGrant(Reply):
    """A signed playlist URL under the nginx gate, and when its token expires (epoch seconds)."""

    url: str
    expires_at: int


class UploadCreated(Reply):
    """A new resumable upload (tus creation); the same facts are in the reply's headers."""

    video_id: uuid.UUID
    upload_url: str
