"""Typed Socket.IO payloads of video comments (the chat's parsing rules apply)."""

from __future__ import annotations

import uuid

from server.chat.payloads import MessageText, Payload


class VideoRef(Payload):
    """Names a video's comment room: join_video, leave_video."""

    video_id: uuid.UUID


class PostComment(VideoRef):
    """A comment, or a reply when `parent_id` names one."""

    body: MessageText
    parent_id: uuid.UUID | None = None


class CommentRef(VideoRef):
    """Names a comment: delete_comment."""

    comment_id: uuid.UUID


class MuteRef(VideoRef):
    """Names a user to mute or unmute on the video's artist's videos."""

    user_id: uuid.UUID
