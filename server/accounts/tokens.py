"""JWT access tokens (HS256) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import jwt

ROLES = ("fan", "artist", "moderator", "admin", "auditor")
# Platform staff: they moderate every event and watch any without a ticket.
STAFF_ROLES = ("moderator", "admin")
_ISSUER = "mhc-live"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as an access token names it."""

    user_id: uuid.UUID
    role: str
    jti: str
    exp: int
    issued_ms: int = 0

    @property
    def is_admin(self) -> bool:
        """Admins may act on anything."""
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        """Moderators and admins act on every event."""
        return self.role in STAFF_ROLES


def issue_access(
    secret: str, user_id: uuid.UUID, role: str, now: float, ttl: int
) -> tuple[str, int]:
    """A signed access token and its expiry (epoch seconds)."""
    exp = int(now) + ttl
    # iat is whole seconds; the milliseconds let a revocation tell apart tokens issued just
    # before and just after it.
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": int(now),
        "iat_ms": int(now * 1000),
        "exp": exp,
        "jti": secrets.token_urlsafe(12),
        "iss": _ISSUER,
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm="HS256"), exp


class InvalidToken(Exception):
    """The access token is malformed, forged or expired."""


def decode_access(secret: str, token: str, now: float) -> Principal:
    """Verify signature, algorithm, issuer, type and expiry; raise InvalidToken otherwise."""
    try:
        # A fixed algorithm list is what stops `alg: none` and algorithm-confusion tokens.
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=_ISSUER,
            # Expiry is checked below against the app's clock, which tests can move.
            options={
                "require": ["exp", "iat", "sub", "jti"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if claims.get("typ") != "access" or claims.get("role") not in ROLES:
        raise InvalidToken("not an access token")
    exp = claims["exp"]
    if not isinstance(exp, int) or exp <= now:
        raise InvalidToken("token expired")
    try:
        user_id = uuid.UUID(claims["sub"])
    except (ValueError, TypeError):
        raise InvalidToken("bad subject") from None
    issued_ms = claims.get(
        "iat_ms", claims["iat"] * 1000 if isinstance(claims["iat"], int) else None
    )
    if not isinstance(issued_ms, int):
        raise InvalidToken("bad issue time")
    return Principal(user_id, claims["role"], str(claims["jti"]), exp, issued_ms)


def new_refresh_token() -> tuple[str, bytes]:
    """An opaque refresh token and the SHA-256 digest stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, refresh_digest(token)


def refresh_digest(token: str) -> bytes:
    """What the database keeps for a refresh token (it has 256 bits of entropy, so no salt)."""
    return hashlib.sha256(token.encode()).digest()
