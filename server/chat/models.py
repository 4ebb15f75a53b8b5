"""Request and reply bodies of the chat's REST routes."""

from __future__ import annotations

import uuid

from server.api import Body, Reply
from server.validate import IsoTime


class ModeratorIn(Body):
    """The account to make a chat moderator of the event."""

    user_id: uuid.UUID


class ModeratorAssigned(Reply):
    """The assignment."""

    event_id: uuid.UUID
    user_id: uuid.UUID


class Moderator(Reply):
    """An assigned chat moderator."""

    user_id: uuid.UUID
    assigned_by: uuid.UUID
    assigned_at: IsoTime


class Moderators(Reply):
    """The event's assigned moderators."""

    event_id: uuid.UUID
    moderators: list[Moderator]


class Viewers(Reply):
    """Distinct users in the event's room across all processes."""

    event_id: uuid.UUID
    viewers: int


class Author(Reply):
    """Who wrote a message."""

    id: uuid.UUID
    name: str


class Message(Reply):
    """A chat message."""

    id: uuid.UUID
    event_id: uuid.UUID
    author: Author
    text: str
    ts: IsoTime


class History(Reply):
    """The last visible messages, oldest first."""

    event_id: uuid.UUID
    messages: list[Message]


class Sanction(Reply):
    """A ban (no end) or a running timeout."""

    user_id: uuid.UUID
    kind: str
    until: IsoTime | None
    by: uuid.UUID
    at: IsoTime


class Sanctions(Reply):
    """The event's bans and running timeouts."""

    event_id: uuid.UUID
    sanctions: list[Sanction]
