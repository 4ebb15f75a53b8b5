"""Register, login, refresh and logout: the rules, apart from HTTP.

Other packages read accounts through `find_account` (a typed `server.accounts.account.Account`)
and `display_names` (or `recent_display_names`); none of them reads the users table or its rows.
"""

from __future__ import annotations

import asyncio
import math
import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from server import audit, geo
from server.accounts import store
from server.accounts.account import Account
from server.accounts.auth import DENIED_PREFIX, cache_valid_after, tokens_revoked
from server.accounts.passwords import hash_password, verify_password
from server.accounts.tokens import Principal, issue_access, new_refresh_token, refresh_digest
from server.errors import ApiError, conflict, not_found, unauthorized
from server.keys import CLOCK, CONFIG, DB, REDIS
from server.metrics import AUTH_DECISIONS
from server.ratelimit import FailureCounter, RateLimit, RateLimiter
from server.wire import timestamp

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def valid_email(email: str) -> bool:
    """A pragmatic syntax check; deliverability is not our business here."""
    return len(email) <= 254 and _EMAIL.match(email) is not None


def user_json(row: Any) -> dict[str, Any]:
    """A user as the API shows it."""
    return {
        "id": str(row["id"]),
        "email": row["email"],
        "display_name": row["display_name"],
        "role": row["role"],
        "created_at": timestamp(row["created_at"]),
    }


async def find_account(conn: asyncpg.Connection, user_id: uuid.UUID) -> Account | None:
    """An account read on the caller's connection, or None when there is none."""
    row = await store.user_by_id(conn, user_id)
    return None if row is None else Account.from_row(row)


async def display_names(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The display names of the accounts that exist among `user_ids`."""
    return await store.display_names(conn, user_ids)


# Feeds show the artist's name beside every video, many pages a second, while no route renames
# an account (only an operator's edit in the database does). So one process keeps each name it
# read for NAMES_TTL_S: a renamed account shows under its new name within that bound.
NAMES_TTL_S = 60.0
_NAMES_KEPT = 10_000


class RecentNames:
    """Display names read lately, each kept NAMES_TTL_S by the app's clock."""

    def __init__(self) -> None:
        self._names: dict[uuid.UUID, tuple[float, str]] = {}

    async def get(
        self, conn: asyncpg.Connection, now: float, user_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """The names of the existing accounts among `user_ids`; only the missing ones are read."""
        found: dict[uuid.UUID, str] = {}
        missing: list[uuid.UUID] = []
        for user_id in user_ids:
            hit = self._names.get(user_id)
            if hit is not None and hit[0] > now:
                found[user_id] = hit[1]
            else:
                missing.append(user_id)
        if missing:
            read = await store.display_names(conn, missing)
            if len(self._names) + len(read) > _NAMES_KEPT:
                self._names = {k: v for k, v in self._names.items() if v[0] > now}
            until = now + NAMES_TTL_S
            for user_id, name in read.items():
                self._names[user_id] = (until, name)
            found.update(read)
        return found


RECENT_NAMES = web.AppKey("recent_display_names", RecentNames)


async def recent_display_names(
    app: web.Application, conn: asyncpg.Connection, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """`display_names`, each up to NAMES_TTL_S old (for pages that show many, many times)."""
    return await app[RECENT_NAMES].get(conn, app[CLOCK].time(), user_ids)


# Concurrent Argon2 work of one app. Each hash holds 64 MiB, so this bounds the memory a
# burst of registrations or logins can take.
HASH_SLOTS = web.AppKey("password_hash_slots", asyncio.Semaphore)


def setup(app: web.Application) -> None:
    """Give the app its password-hashing slots and recent names (apps freeze at start)."""
    app[HASH_SLOTS] = asyncio.Semaphore(app[CONFIG].password_hash_concurrency)
    app[RECENT_NAMES] = RecentNames()


async def _limit_registrations(app: web.Application, ip: str) -> None:
    cfg = app[CONFIG]
    limit = RateLimit("register_ip", cfg.register_per_hour_ip, cfg.register_per_hour_ip / 3600)
    allowed, wait_ms = await RateLimiter(app[REDIS]).take([(limit, ip)], app[CLOCK].time())
    if not allowed:
        AUTH_DECISIONS.labels("register", "rate_limited").inc()
        raise ApiError(
            429,
            "rate_limited",
            "too many registrations from this address; try again later",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
        )


async def register(
    app: web.Application, email: str, password: str, display_name: str, role: str, ip: str
) -> dict[str, Any]:
    """Create an account and log it in (rate-limited per address, before any hashing)."""
    await _limit_registrations(app, ip)
    password_hash = await hash_password(password, app[HASH_SLOTS])
    async with app[DB].acquire() as conn:
        row = await store.insert_user(conn, uuid.uuid4(), email, password_hash, display_name, role)
    if row is None:
        raise conflict("an account with this email exists", "email_taken")
    await audit.log(app, "USER_REGISTERED", actor=row["id"], subject=row["id"], role=role)
    return await _session(app, row, uuid.uuid4())


def _limiters(app: web.Application) -> tuple[FailureCounter, FailureCounter]:
    cfg = app[CONFIG]
    return (
        FailureCounter(
            app[REDIS], "auth:fail:acct", cfg.login_max_failures_account, cfg.login_window
        ),
        FailureCounter(app[REDIS], "auth:fail:ip", cfg.login_max_failures_ip, cfg.login_window),
    )


def unknown_email_key(email: str) -> str:
    """The failure-counter key of an address no account has: a fold that maps every case and
    compatibility variant (`İ`, `i`, `ı`, `ﬁ`) to one key, so variants cannot multiply tries."""  # noqa: RUF002
    decomposed = unicodedata.normalize("NFKD", email.casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "email:" + unicodedata.normalize("NFKC", folded).replace("ı", "i")  # noqa: RUF001


async def login(app: web.Application, email: str, password: str, ip: str) -> dict[str, Any]:
    """Check credentials under per-account and per-IP failure limits."""
    per_account, per_ip = _limiters(app)
    async with app[DB].acquire() as conn:
        row = await store.user_with_hash(conn, email)
    # The account the database finds is what the tries belong to, however its email is typed.
    account_key = f"user:{row['id']}" if row is not None else unknown_email_key(email)
    # Both counters count this attempt before the slow check, so parallel guesses add up.
    wait = max(await per_account.reserve(account_key), await per_ip.reserve(ip))
    if wait:
        AUTH_DECISIONS.labels("login", "rate_limited").inc()
        raise ApiError(
            429, "rate_limited", "too many failed logins; try again later", retry_after=wait
        )
    ok = await verify_password(row["password_hash"] if row else None, password, app[HASH_SLOTS])
    if row is None or not ok:
        AUTH_DECISIONS.labels("login", "denied").inc()
        await audit.log(
            app,
            "USER_LOGIN_FAILED",
            subject=row["id"] if row else None,
            personal={"ip": ip} if row else None,
            reason="bad_credentials",
        )
        raise unauthorized("wrong email or password", "bad_credentials")
    await per_account.clear(account_key)
    await per_ip.release(ip)
    place = geo.locate(app, ip)
    if place is not None:  # re-verifies the account there for the anti-sharing check
        async with app[DB].acquire() as conn:
            await store.set_login_location(
                conn, row["id"], place.latitude, place.longitude, app[CLOCK].now()
            )
    AUTH_DECISIONS.labels("login", "allowed").inc()
    await audit.log(app, "USER_LOGIN", actor=row["id"], subject=row["id"], personal={"ip": ip})
    return await _session(app, row, uuid.uuid4())


def _tokens(app: web.Application, user: Any) -> tuple[dict[str, Any], bytes]:
    """A session reply (access + new refresh token) and the refresh token's digest."""
    cfg, clock = app[CONFIG], app[CLOCK]
    access, exp = issue_access(
        cfg.jwt_secret, user["id"], user["role"], clock.time(), cfg.access_ttl
    )
    refresh_token, digest = new_refresh_token()
    return {
        "access": access,
        "refresh": refresh_token,
        "expires_in": exp - int(clock.time()),
        "token_type": "Bearer",
        "user": user_json(user),
    }, digest


async def _session(app: web.Application, user: Any, family_id: uuid.UUID) -> dict[str, Any]:
    reply, digest = _tokens(app, user)
    async with app[DB].acquire() as conn:
        await store.insert_refresh(conn, user["id"], family_id, digest, _refresh_expiry(app))
    return reply


def _refresh_expiry(app: web.Application) -> Any:
    return app[CLOCK].now() + timedelta(seconds=app[CONFIG].refresh_ttl)


async def refresh(app: web.Application, token: str) -> dict[str, Any]:
    """Rotate a refresh token; a reused one revokes its whole family.

    Use, lookup and the new token's insert share one transaction under a per-family lock,
    so a reuse racing the legitimate rotation revokes the new token too.
    """
    now = app[CLOCK].now()
    digest = refresh_digest(token)
    reply: dict[str, Any] | None = None
    async with app[DB].acquire() as conn, conn.transaction():
        await store.lock_family_of(conn, digest)
        used = await store.use_refresh(conn, digest, now)
        if used["state"] == "spent":
            await store.revoke_family(conn, used["family_id"], now)
        elif used["state"] == "fresh":
            user = await store.user_by_id(conn, used["user_id"])
            if user is not None:
                reply, new_digest = _tokens(app, user)
                await store.insert_refresh(
                    conn, user["id"], used["family_id"], new_digest, _refresh_expiry(app)
                )
    if used["state"] == "spent":
        AUTH_DECISIONS.labels("refresh", "reuse").inc()
        await audit.log(
            app, "REFRESH_TOKEN_REUSED", subject=used["user_id"], family=used["family_id"]
        )
        raise unauthorized("refresh token already used or revoked; sign in again", "token_reused")
    if reply is None:
        AUTH_DECISIONS.labels("refresh", "denied").inc()
        raise unauthorized("unknown or expired refresh token", "invalid_token")
    AUTH_DECISIONS.labels("refresh", "allowed").inc()
    return reply


async def logout(app: web.Application, principal: Principal, refresh_token: str | None) -> None:
    """End the session: deny the access token until it expires, revoke the refresh family.

    PostgreSQL holds the denial (it survives a Redis restart); Redis gets the copy the
    request path reads.
    """
    clock = app[CLOCK]
    ttl = max(principal.exp - int(clock.time()), 1)
    async with app[DB].acquire() as conn:
        await store.revoke_access(
            conn, principal.jti, principal.user_id, datetime.fromtimestamp(principal.exp, UTC)
        )
        if refresh_token:
            family = await store.family_of(conn, refresh_digest(refresh_token))
            if family is not None and family["user_id"] == principal.user_id:
                await store.revoke_family(conn, family["family_id"], clock.now())
    await app[REDIS].set(DENIED_PREFIX + principal.jti, "1", ex=ttl)
    await tokens_revoked(app, principal.user_id, principal.jti)


async def logout_everywhere(app: web.Application, principal: Principal) -> None:
    """End every session of the account: access tokens issued until now are refused and every
    refresh family is revoked (phones, browsers, stolen copies alike)."""
    valid_after_ms = int(app[CLOCK].time() * 1000) + 1
    async with app[DB].acquire() as conn, conn.transaction():
        await store.refuse_tokens_before(conn, principal.user_id, valid_after_ms)
        await store.revoke_all_refresh(conn, principal.user_id, app[CLOCK].now())
        await audit.record(
            app, conn, "LOGGED_OUT_EVERYWHERE", actor=principal.user_id, subject=principal.user_id
        )
    await cache_valid_after(app, principal.user_id, valid_after_ms)
    await tokens_revoked(app, principal.user_id, None)


async def change_role(
    app: web.Application, user_id: uuid.UUID, role: str, actor: object, via: str
) -> Any:
    """The one way to change a role (API and CLI): tokens issued before it stop working at
    once, and the change is recorded in the forensic log. Returns the user row."""
    valid_after_ms = int(app[CLOCK].time() * 1000)
    async with app[DB].acquire() as conn, conn.transaction():
        previous = await store.role_of(conn, user_id)
        row = await store.set_role(conn, user_id, role, valid_after_ms)
        if row is None:
            raise not_found("user")
        await audit.record(
            app,
            conn,
            "ROLE_CHANGED",
            actor=actor,
            subject=user_id,
            role=role,
            previous=previous,
            via=via,
        )
    await cache_valid_after(app, user_id, valid_after_ms)
    await tokens_revoked(app, user_id, None)
    return row


async def verified_at(
    app: web.Application, user_id: uuid.UUID, place: geo.Place, since: datetime
) -> bool:
    """True when the account logged in near `place` (within the anti-sharing distance) after
    `since`: its owner re-verified there."""
    async with app[DB].acquire() as conn:
        row = await store.login_location(conn, user_id)
    if row is None or row["logged_in_at"] < since:
        return False
    login = geo.Place(row["latitude"], row["longitude"])
    return geo.miles_between(login, place) <= app[CONFIG].geo_max_miles
