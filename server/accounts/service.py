"""Register, login, refresh and logout: the rules, apart from HTTP."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from server import audit
from server.accounts import store
from server.accounts.auth import DENIED_PREFIX
from server.accounts.passwords import hash_password, verify_password
from server.accounts.tokens import Principal, issue_access, new_refresh_token, refresh_digest
from server.errors import ApiError, conflict, unauthorized
from server.keys import CLOCK, CONFIG, DB, REDIS
from server.metrics import AUTH_DECISIONS
from server.ratelimit import FailureCounter

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
SELF_SERVICE_ROLES = ("fan", "artist")


def valid_email(email: str) -> bool:
    """A pragmatic syntax check; deliverability is not our business here."""
    return len(email) <= 254 and _EMAIL.match(email) is not None


def user_json(row: Any) -> dict[str, Any]:
    """A user as the API shows it."""
    return {"id": str(row["id"]), "email": row["email"], "display_name": row["display_name"],
            "role": row["role"], "created_at": row["created_at"].isoformat()}


async def register(app: web.Application, email: str, password: str, display_name: str,
                   role: str) -> dict[str, Any]:
    """Create an account and log it in."""
    password_hash = await hash_password(password)
    async with app[DB].acquire() as conn:
        row = await store.insert_user(conn, uuid.uuid4(), email, password_hash, display_name, role)
    if row is None:
        raise conflict("an account with this email exists", "email_taken")
    await audit.log(app, "USER_REGISTERED", actor=row["id"], subject=row["id"], role=role)
    return await _session(app, row, uuid.uuid4())


def _limiters(app: web.Application) -> tuple[FailureCounter, FailureCounter]:
    cfg = app[CONFIG]
    return (FailureCounter(app[REDIS], "auth:fail:acct", cfg.login_max_failures_account, cfg.login_window),
            FailureCounter(app[REDIS], "auth:fail:ip", cfg.login_max_failures_ip, cfg.login_window))


async def login(app: web.Application, email: str, password: str, ip: str) -> dict[str, Any]:
    """Check credentials under per-account and per-IP failure limits."""
    per_account, per_ip = _limiters(app)
    account_key = email.lower()
    wait = max(await per_account.blocked_for(account_key), await per_ip.blocked_for(ip))
    if wait:
        AUTH_DECISIONS.labels("login", "rate_limited").inc()
        raise ApiError(429, "rate_limited", "too many failed logins; try again later",
                       retry_after=wait)
    async with app[DB].acquire() as conn:
        row = await store.user_with_hash(conn, email)
    ok = await verify_password(row["password_hash"] if row else None, password)
    if row is None or not ok:
        await per_account.add(account_key)
        await per_ip.add(ip)
        AUTH_DECISIONS.labels("login", "denied").inc()
        await audit.log(app, "USER_LOGIN_FAILED", subject=row["id"] if row else None,
                        personal={"ip": ip} if row else None, reason="bad_credentials")
        raise unauthorized("wrong email or password", "bad_credentials")
    await per_account.clear(account_key)
    AUTH_DECISIONS.labels("login", "allowed").inc()
    await audit.log(app, "USER_LOGIN", actor=row["id"], subject=row["id"], personal={"ip": ip})
    return await _session(app, row, uuid.uuid4())


async def _session(app: web.Application, user: Any, family_id: uuid.UUID) -> dict[str, Any]:
    cfg, clock = app[CONFIG], app[CLOCK]
    access, exp = issue_access(cfg.jwt_secret, user["id"], user["role"], clock.time(), cfg.access_ttl)
    refresh, digest = new_refresh_token()
    async with app[DB].acquire() as conn:
        await store.insert_refresh(conn, user["id"], family_id, digest,
                                   clock.now() + timedelta(seconds=cfg.refresh_ttl))
    return {"access": access, "refresh": refresh, "expires_in": exp - int(clock.time()),
            "token_type": "Bearer", "user": user_json(user)}


async def refresh(app: web.Application, token: str) -> dict[str, Any]:
    """Rotate a refresh token; a reused one revokes its whole family."""
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        used = await store.use_refresh(conn, refresh_digest(token), now)
        if used["state"] == "spent":
            await store.revoke_family(conn, used["family_id"], now)
        user = await store.user_by_id(conn, used["user_id"]) if used["state"] == "fresh" else None
    if used["state"] == "spent":
        AUTH_DECISIONS.labels("refresh", "reuse").inc()
        await audit.log(app, "REFRESH_TOKEN_REUSED", subject=used["user_id"],
                        family=used["family_id"])
        raise unauthorized("refresh token already used or revoked; sign in again", "token_reused")
    if user is None:
        AUTH_DECISIONS.labels("refresh", "denied").inc()
        raise unauthorized("unknown or expired refresh token", "invalid_token")
    AUTH_DECISIONS.labels("refresh", "allowed").inc()
    return await _session(app, user, used["family_id"])


async def logout(app: web.Application, principal: Principal, refresh_token: str | None) -> None:
    """End the session: deny the access token until it expires, revoke the refresh family."""
    clock = app[CLOCK]
    ttl = max(principal.exp - int(clock.time()), 1)
    await app[REDIS].set(DENIED_PREFIX + principal.jti, "1", ex=ttl)
    if refresh_token:
        async with app[DB].acquire() as conn:
            family = await store.family_of(conn, refresh_digest(refresh_token))
            if family is not None and family["user_id"] == principal.user_id:
                await store.revoke_family(conn, family["family_id"], clock.now())
