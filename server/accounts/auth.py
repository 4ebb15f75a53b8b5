"""Resolving the caller of a request from its bearer token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from server.accounts.tokens import InvalidToken, Principal, decode_access
from server.errors import ApiError, forbidden, unauthorized
from server.keys import CLOCK, CONFIG, REDIS

_PRINCIPAL = web.RequestKey("principal", Principal)
DENIED_PREFIX = "auth:denied-jti:"
VALID_AFTER_PREFIX = "auth:valid-after:"

# Told after tokens are revoked: (app, user, jti) for one logged-out token, jti None for all of
# a user's (a role change). Connections that never present their token again (chat) need it.
RevocationListener = Callable[[web.Application, uuid.UUID, str | None], Awaitable[None]]
REVOCATION_LISTENERS = web.AppKey("revocation_listeners", list[RevocationListener])


async def tokens_revoked(app: web.Application, user_id: uuid.UUID, jti: str | None) -> None:
    """Tell the revocation listeners (after the revocation is in place)."""
    for listener in app.get(REVOCATION_LISTENERS, []):
        await listener(app, user_id, jti)


async def ensure_not_revoked(app: web.Application, principal: Principal) -> None:
    """Refuse a token that was logged out, or issued before its user's role last changed."""
    denied, valid_after = await app[REDIS].mget(DENIED_PREFIX + principal.jti,
                                                VALID_AFTER_PREFIX + str(principal.user_id))
    if denied is not None:
        raise unauthorized("access token was revoked", "invalid_token")
    if valid_after is not None and principal.issued_ms < int(valid_after):
        raise unauthorized("access token predates a change to the account; refresh it",
                           "invalid_token")


def decode_token(app: web.Application, token: str) -> Principal:
    """Decode and verify an access token, without the revocation check; raises 401 ApiError."""
    try:
        return decode_access(app[CONFIG].jwt_secret, token, app[CLOCK].time())
    except InvalidToken as exc:
        raise unauthorized(f"invalid access token: {exc}", "invalid_token") from None


async def principal_from_token(app: web.Application, token: str) -> Principal:
    """Decode an access token and refuse it if it was revoked; raises 401 ApiError."""
    principal = decode_token(app, token)
    await ensure_not_revoked(app, principal)
    return principal


async def revoke_user_tokens(app: web.Application, user_id: object) -> None:
    """Make every access token issued to a user until now invalid (e.g. after a role change)."""
    clock = app[CLOCK]
    # Milliseconds: a login right after the change must already be valid.
    await app[REDIS].set(VALID_AFTER_PREFIX + str(user_id), int(clock.time() * 1000),
                         ex=app[CONFIG].access_ttl + 60)
    await tokens_revoked(app, uuid.UUID(str(user_id)), None)


async def optional_user(request: web.Request) -> Principal | None:
    """The caller, or None when no Authorization header was sent."""
    if _PRINCIPAL in request:
        return request[_PRINCIPAL]
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("expected 'Authorization: Bearer <token>'", "invalid_token")
    principal = await principal_from_token(request.app, token.strip())
    request[_PRINCIPAL] = principal
    return principal


async def require_user(request: web.Request, *roles: str) -> Principal:
    """The caller, who must be logged in and (when roles are given) hold one of them."""
    principal = await optional_user(request)
    if principal is None:
        raise unauthorized()
    if roles and principal.role not in roles and not principal.is_admin:
        raise ApiError(403, "forbidden", f"requires role {' or '.join(roles)}")
    return principal


def ensure(condition: bool, message: str = "not allowed") -> None:
    """Raise 403 unless `condition`."""
    if not condition:
        raise forbidden(message)
