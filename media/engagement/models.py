"""Request and reply models of engagement, follows, profiles, feeds, comments and analytics."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field

from media.videos.models import VideoOut
from server.api import Body, Query, Reply

MAX_WATCH_REPORT = 86400


class WatchIn(Body):
    """Seconds watched since the last report (the seed's camelCase name)."""

    seconds_watched: Annotated[
        float, Field(alias="secondsWatched", ge=0, le=MAX_WATCH_REPORT, allow_inf_nan=False)
    ]


class LikeIn(Body):
    """Like (true) or take the like back (false)."""

    liked: bool


class ViewOut(Reply):
    """Whether the view counted, and the video's views."""

    counted: bool
    views: int


class WatchOut(Reply):
    """The caller's watched seconds of the video, and how many this report added."""

    watched_seconds: float
    credited_seconds: float


class LikeOut(Reply):
    """The caller's like and the video's likes."""

    liked: bool
    likes: int


class FollowOut(Reply):
    """Whether the caller follows the artist now, and the artist's followers."""

    following: bool
    followers: int


class Profile(Reply):
    """An artist's profile."""

    id: uuid.UUID
    display_name: str
    followers: int
    following: bool
    videos: list[VideoOut]
    upcoming_events: list[dict[str, Any]]


class FeedQuery(Query):
    """A feed page: the cursor of the previous page's `next`, and how many items (1-50)."""

    cursor: (
        Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_.=-]+$")] | None
    ) = None
    limit: Annotated[int, Field(ge=1, le=50)] = 20


class FeedVideo(Reply):
    """A video in a feed."""

    id: uuid.UUID
    artist_id: uuid.UUID
    title: str
    realm: str
    visibility: str
    tags: list[str]
    duration_s: float | None
    state: str
    ready_at: str


class FeedArtist(Reply):
    """Who made a video."""

    id: uuid.UUID
    display_name: str


class FeedItem(Reply):
    """A video card (`video`, `artist`) or a live card (`event`)."""

    type: Literal["video", "live"]
    video: FeedVideo | None = None
    artist: FeedArtist | None = None
    event: dict[str, Any] | None = None


class FeedPage(Reply):
    """A feed page and the cursor of the next one (null at the end)."""

    items: list[FeedItem]
    next: str | None


class CommentQuery(Query):
    """A page of comments: the previous page's `next`, and how many top-level comments."""

    cursor: (
        Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_.=-]+$")] | None
    ) = None
    limit: Annotated[int, Field(ge=1, le=50)] = 20


class CommentAuthor(Reply):
    """Who wrote a comment."""

    id: uuid.UUID
    display_name: str


class Comment(Reply):
    """A comment and (for a top-level one) its first replies, oldest first."""

    id: uuid.UUID
    video_id: uuid.UUID
    parent_id: uuid.UUID | None
    author: CommentAuthor
    body: str
    created_at: str
    replies: list[Comment]


class CommentPage(Reply):
    """Top-level comments, newest first, and the cursor of the next page."""

    items: list[Comment]
    next: str | None


class AnalyticsQuery(Query):
    """A UTC date range (inclusive) and the bucket size."""

    from_: Annotated[str, Field(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")]
    to: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    bucket: Literal["day", "week"] = "day"


class Money(Reply):
    """A count and an amount in minor units of one currency (null when there was none)."""

    count: int
    amount: int
    currency: str | None


class Bucket(Reply):
    """One day or week of an artist's figures."""

    start: str
    views: int
    unique_viewers: int
    watch_seconds: float
    likes: int
    new_followers: int
    tips: Money
    sales: Money


class TopVideo(Reply):
    """A video's figures over the range."""

    video_id: uuid.UUID
    title: str | None
    views: int
    watch_seconds: float
    likes: int


class Analytics(Reply):
    """An artist's figures per bucket, and their most viewed videos of the range."""

    buckets: list[Bucket]
    top_videos: list[TopVideo]
