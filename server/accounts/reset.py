"""Forgot and reset password: a single-use, short-lived token mailed to the account's address.

The forgot route does the same work whether or not the address has an account: it only
enqueues a job (in its own transaction) that looks the address up, stores the digest of a new
token and mails the link; the answer is always 202, in the same time. A reset spends the
token atomically, sets the new password, and ends every session: access tokens issued before
it are refused and every refresh family is revoked.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from server import audit, jobs
from server.accounts import mail, store
from server.accounts.auth import cache_valid_after, tokens_revoked
from server.accounts.passwords import hash_password
from server.accounts.service import HASH_SLOTS, unknown_email_key
from server.errors import ApiError, bad_request
from server.keys import CLOCK, CONFIG, DB, REDIS
from server.ratelimit import RateLimit, RateLimiter

MAIL_JOB = "accounts.password_reset_mail"


def digest(token: str) -> bytes:
    """What is stored of a reset token."""
    return hashlib.sha256(token.encode()).digest()


async def _limit(app: web.Application, name: str, per_hour: int, key: str) -> tuple[bool, int]:
    limit = RateLimit(name, per_hour, per_hour / 3600)
    return await RateLimiter(app[REDIS]).take([(limit, key)], app[CLOCK].time())


async def forgot(app: web.Application, email: str, ip: str) -> None:
    """Enqueue the reset mail (the job finds out whether there is an account to mail)."""
    cfg = app[mail.MAIL_CONFIG]
    allowed, wait_ms = await _limit(app, "password_forgot_ip", cfg.forgot_per_hour_ip, ip)
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            "too many password reset requests; try again later",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
        )
    # Per address, extra requests are dropped quietly: a refusal would say nothing about the
    # account, but mailing someone twenty links helps nobody.
    allowed, _ = await _limit(
        app, "password_forgot_email", cfg.forgot_per_hour_email, unknown_email_key(email)
    )
    if not allowed:
        return
    async with app[DB].acquire() as conn, conn.transaction():
        await jobs.enqueue(app, conn, MAIL_JOB, {"email": email})


async def mail_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The job: mail a reset link to the account with this address, if there is one."""
    cfg = app[mail.MAIL_CONFIG]
    token = secrets.token_urlsafe(32)
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        user = await store.user_by_email(conn, payload["email"])
        if user is None:
            return
        await conn.execute(
            """INSERT INTO password_resets (token_hash, user_id, expires_at, created_at)
               VALUES ($1, $2, $3, $4)""",
            digest(token),
            user["id"],
            now + timedelta(minutes=cfg.reset_minutes),
            now,
        )
    link = f"{cfg.reset_url}?token={quote(token)}"
    await mail.send(
        cfg,
        user["email"],
        "Reset your MHC Live password",
        f"Hello {user['display_name']},\n\n"
        f"Someone asked to reset the password of your MHC Live account. To choose a new one,\n"
        f"open this link within {cfg.reset_minutes} minutes (it works once):\n\n{link}\n\n"
        f"Your reset code: {token}\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n",
    )
    await audit.log(app, "PASSWORD_RESET_MAILED", subject=user["id"])


async def reset(app: web.Application, token: str, password: str, ip: str) -> None:
    """Spend a reset token: set the password and end every session of the account."""
    cfg = app[mail.MAIL_CONFIG]
    allowed, wait_ms = await _limit(app, "password_reset_ip", cfg.reset_per_hour_ip, ip)
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            "too many password reset attempts; try again later",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
        )
    # Hashed before the token is spent, so a slow hash cannot leave a spent token unused.
    password_hash = await hash_password(password, app[HASH_SLOTS])
    now = app[CLOCK].now()
    valid_after_ms = int(app[CLOCK].time() * 1000)
    async with app[DB].acquire() as conn, conn.transaction():
        user_id: uuid.UUID | None = await conn.fetchval(
            """UPDATE password_resets SET used_at = $2
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
               RETURNING user_id""",
            digest(token),
            now,
        )
        if user_id is None:
            raise bad_request("the reset link is invalid, used or expired", "invalid_token")
        # Every other link mailed before this reset stops working too.
        await conn.execute(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            user_id,
            now,
        )
        await store.set_password(conn, user_id, password_hash, valid_after_ms)
        await store.revoke_all_refresh(conn, user_id, now)
        await audit.record(app, conn, "PASSWORD_RESET", actor=user_id, subject=user_id)
    await cache_valid_after(app, user_id, valid_after_ms)
    await tokens_revoked(app, user_id, None)


def setup(app: web.Application) -> None:
    """Load the mail settings and register the reset mail job."""
    app[mail.MAIL_CONFIG] = mail.load(app[CONFIG])
    jobs.register(app, MAIL_JOB, mail_job)
