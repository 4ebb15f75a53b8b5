"""Revocations: PostgreSQL is the authority, Redis a cache the hot paths read.

Logouts, role changes and playback revocations are written to PostgreSQL first and then to
Redis. A marker key says the Redis copy is complete; a Redis that restarted empty (or was
flushed) has no marker, and the first reader rebuilds the copy from PostgreSQL before it
answers. So the common path stays one Redis round trip with no SQL, and nothing revoked
comes back to life when Redis forgets.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiohttp import web

from server.accounts import store as accounts
from server.keys import CLOCK, CONFIG, DB, REDIS
from server.playback import store as playback

log = logging.getLogger(__name__)

LOADED_KEY = "revocations:loaded"
DENIED_PREFIX = "auth:denied-jti:"
VALID_AFTER_PREFIX = "auth:valid-after:"
PLAYBACK_PREFIX = "play:revoked:"

# One rebuild at a time per process (keyed by app: tests run several apps in one process).
_locks: dict[int, asyncio.Lock] = {}


def valid_after_ttl(app: web.Application) -> int:
    """How long a role-change cutoff matters: until every token issued before it expired."""
    return app[CONFIG].access_ttl + 60


def playback_ttl(app: web.Application) -> int:
    """How long a playback revocation matters: until every token of the session expired."""
    return app[CONFIG].playback_ttl + 60


async def rebuild(app: web.Application) -> None:
    """Copy every revocation that still matters from PostgreSQL into Redis, then the marker."""
    lock = _locks.setdefault(id(app), asyncio.Lock())
    async with lock:
        redis = app[REDIS]
        if await redis.exists(LOADED_KEY):
            return  # another request of this process (or another process) just did it
        clock = app[CLOCK]
        now, now_ms = clock.now(), int(clock.time() * 1000)
        async with app[DB].acquire() as conn:
            denied, cutoffs = await accounts.revocations_since(
                conn, now, now_ms - valid_after_ttl(app) * 1000
            )
            sessions = await playback.revoked_since(
                conn, now - timedelta(seconds=playback_ttl(app))
            )
        async with redis.pipeline(transaction=False) as pipe:
            for row in denied:
                ttl = max(int((row["expires_at"] - now).total_seconds()), 1)
                pipe.set(DENIED_PREFIX + row["jti"], "1", ex=ttl)
            for row in cutoffs:
                # Never lower a cutoff another process wrote meanwhile (it is newer).
                pipe.set(
                    VALID_AFTER_PREFIX + str(row["id"]),
                    row["tokens_valid_after_ms"],
                    ex=valid_after_ttl(app),
                    nx=True,
                )
            for sid in sessions:
                pipe.set(PLAYBACK_PREFIX + str(sid), "revoked", ex=playback_ttl(app))
            pipe.set(LOADED_KEY, str(now_ms))
            await pipe.execute()
        log.info(
            "revocation cache rebuilt from PostgreSQL: %d tokens, %d accounts, "
            "%d playback sessions",
            len(denied),
            len(cutoffs),
            len(sessions),
        )
