"""Resolving the caller of a request from its bearer token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from server import redisbatch, revocations
from server.accounts.tokens import InvalidToken, Principal, decode_access
from server.errors import ApiError, unauthorized
from server.keys import CLOCK, CONFIG, REDIS
from server.ratelimit import TAKE_BUCKETS_LUA, RateLimit
from server.redisbatch import BatchedScript
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
    denied, valid_after, loaded = await redisbatch.read(app[REDIS], *keys)
    if loaded is None:  # Redis lost its copy: rebuild it from PostgreSQL, then read again
        await revocations.rebuild(app)
        denied, valid_after, loaded = await redisbatch.read(app[REDIS], *keys)
    if denied is not None:
        raise unauthorized("access token was revoked", "invalid_token")
    if valid_after is not None and principal.issued_ms < int(valid_after):
        raise unauthorized(
            "access token predates a change to the account; refresh it", "invalid_token"
        )


# KEYS: the token's denial, its user's cutoff, the loaded marker, then bucket keys; ARGV: the
# token's issue time (ms), whether a missing marker stops the check (1/0), the buckets'
# (capacity, refill) pairs, now, cost. Returns {state, allowed, retry_after_ms}; state 0: the
# token stands (and the buckets were tried), 1: logged out, 2: predates a cutoff, 3: the copy
# is not loaded. Only a standing token spends.
_STANDING_AND_TAKE = (
    TAKE_BUCKETS_LUA
    + """
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return {3, 0, 0} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, 0, 0} end
local after = redis.call('GET', KEYS[2])
if after and tonumber(ARGV[1]) < tonumber(after) then return {2, 0, 0} end
local n = #KEYS - 3
local allowed, wait = take_buckets(KEYS, 4, n, ARGV, 3, tonumber(ARGV[2 * n + 3]),
                                   tonumber(ARGV[2 * n + 4]))
return {0, allowed, wait}
"""
)


_STANDING_SCRIPT = BatchedScript(_STANDING_AND_TAKE)


async def take_if_not_revoked(
    app: web.Application,
    principal: Principal,
    checks: Sequence[tuple[RateLimit, str]],
    now: float,
    cost: float = 1.0,
) -> tuple[bool, int]:
    """`ensure_not_revoked`, then for a token that stands the rate limiter's (allowed,
    retry_after_ms), in one Redis round trip: a hot path's two calls as one."""
    keys = [DENIED_PREFIX + principal.jti, VALID_AFTER_PREFIX + str(principal.user_id)]
    keys += [LOADED_KEY, *(limit.key(key) for limit, key in checks)]
    limits = [arg for limit, _ in checks for arg in limit.args()]
    args = [str(principal.issued_ms), "1", *limits, repr(now), repr(cost)]
    state, allowed, wait = await _STANDING_SCRIPT(app[REDIS], keys, args)
    if state == 3:  # Redis lost its copy: rebuild it from PostgreSQL, then check again
        await revocations.rebuild(app)
        args[1] = "0"
        state, allowed, wait = await _STANDING_SCRIPT(app[REDIS], keys, args)
    if state == 1:
        raise unauthorized("access token was revoked", "invalid_token")
    if state == 2:
        raise unauthorized(
            "access token predates a change to the account; refresh it", "invalid_token"
        )
    return bool(allowed), int(wait)


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


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("expected 'Authorization: Bearer <token>'", "invalid_token")
    return token.strip()


def unchecked_user(request: web.Request) -> Principal:
    """The caller's decoded token, its revocation NOT yet checked: for a route that checks it
    in its first Redis call (`take_if_not_revoked`) and before any refusal of its own."""
    token = _bearer(request)
    if token is None:
        raise unauthorized()
    return decode_token(request.app, token)


async def optional_user(request: web.Request) -> Principal | None:
    """The caller, or None when no Authorization header was sent."""
    if _PRINCIPAL in request:
        return request[_PRINCIPAL]
    token = _bearer(request)
    if token is None:
        return None
    principal = await principal_from_token(request.app, token)
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
