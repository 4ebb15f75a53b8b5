"""Request and reply bodies of the account routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from server.accounts.service import valid_email
from server.api import Body, Reply
from server.validate import Clean, IsoTime

# The syntax `valid_email` checks, as a pattern clients and the fuzzer can read.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"


def _email(value: str) -> str:
    if not valid_email(value):
        raise ValueError("is not a valid address")
    return value


# No trimming here: the documented pattern is exactly what is accepted.
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN), AfterValidator(_email)
]
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
RefreshToken = Annotated[str, Clean(max_len=128)]
Role = Literal["fan", "artist", "moderator", "admin", "auditor"]


class RegisterIn(Body):
    """A new fan or artist account."""

    email: Email
    password: NewPassword
    display_name: Annotated[str, Clean(max_len=80)] | None = None
    role: Literal["fan", "artist"] = "fan"


class LoginIn(Body):
    """Credentials."""

    email: Annotated[str, Clean(max_len=254)]
    password: Password


class RefreshIn(Body):
    """A refresh token to rotate."""

    refresh: RefreshToken


class LogoutIn(Body):
    """Optionally the refresh token whose family ends too, or every session of the account."""

    refresh: RefreshToken | None = None
    everywhere: bool = False


class RoleIn(Body):
    """The role an admin grants."""

    role: Role


class User(Reply):
    """An account as the API shows it."""

    id: uuid.UUID
    email: str
    display_name: str
    role: str
    created_at: IsoTime
    avatar_url: str | None = None


class Session(Reply):
    """A signed-in session: a short-lived access token and a rotating refresh token."""

    access: str
    refresh: str
    expires_in: int
    token_type: Literal["Bearer"]
    user: User


class ForgotIn(Body):
    """The address to send a reset link to (if it has an account)."""

    email: Annotated[str, Clean(max_len=254)]


class ResetIn(Body):
    """A reset token from the mail and the new password."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: NewPassword


class Accepted(Reply):
    """The request was taken; what follows happens out of band."""

    accepted: bool


class Notifications(Reply):
    """What the account is told about."""

    live_started: bool
    new_videos: bool
    comment_replies: bool
    tips_received: bool
    email: bool


class NotificationsIn(Body):
    """Notification settings to change (the others stay)."""

    live_started: bool | None = None
    new_videos: bool | None = None
    comment_replies: bool | None = None
    tips_received: bool | None = None
    email: bool | None = None


Realm = Literal["inferno", "purgatorio", "paradiso"]


class Preferences(Reply):
    """The account's theme, notification settings and avatar."""

    realm: Realm
    notifications: Notifications
    avatar_url: str | None


class PreferencesIn(Body):
    """Preferences to change (what is left out stays)."""

    realm: Realm | None = None
    notifications: NotificationsIn | None = None


class Avatar(Reply):
    """Where the new avatar is served."""

    avatar_url: str
