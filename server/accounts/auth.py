"""Resolving the caller of a request from its bearer token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from server import revocations
from server.accounts.tokens import InvalidToken, Principal, decode_access
from server.errors import ApiError, unauthorized
from server.keys import CLOCK, CONFIG, REDIS
from server.revocations import DENIED_PREFIX, LOADED_KEY, VALID_AFTER_PREFIX

_PRINCIPAL = web.RequestKey("principal", Principal)
__all__ = ["DENIED_PREFIX", "VALID_AFTER_PREFIX"]

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
    keys = (DENIED_PREFIX + principal.jti, VALID_AFTER_PREFIX + str(principal.user_id), LOADED_KEY)
    denied, valid_after, loaded = await app[REDIS].mget(*keys)
    if loaded is None:  # Redis lost its copy: rebuild it from PostgreSQL, then read again
        await revocations.rebuild(app)
        denied, valid_after, loaded = await app[REDIS].mget(*keys)
    if denied is not None:
        raise unauthorized("access token was revoked", "invalid_token")
    if valid_after is not None and principal.issued_ms < int(valid_after):
        raise unauthorized(
            "access token predates a change to the account; refresh it", "invalid_token"
        )


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


async def cache_valid_after(app: web.Application, user_id: object, valid_after_ms: int) -> None:
    """Put a cutoff already stored in PostgreSQL into the Redis copy."""
    await app[REDIS].set(
        VALID_AFTER_PREFIX + str(user_id), valid_after_ms, ex=revocations.valid_after_ttl(app)
    )


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
