"""What an operator would otherwise deploy: a minimal aiohttp validation endpoint.

It checks the same HS256 access token (signature, issuer, expiry) and runs only the
conditional UPDATE that makes admission single-use; nothing else (no rate limits, no signed
codes, no sessions, no audit trail). Served as its own process, like `mhc serve`.

Usage: python bench/ticket_validate/baseline_app.py PORT DATABASE_URL JWT_SECRET
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import jwt
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)
SECRET = web.AppKey("secret", str)


async def validate(request: web.Request) -> web.Response:
    """Admit a ticket once: 200, or 401 / 400 / 409."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        claims = jwt.decode(token, request.app[SECRET], algorithms=["HS256"], issuer="mhc-live")
    except jwt.PyJWTError:
        return web.json_response({"error": "invalid_token"}, status=401)
    body = await request.json()
    try:
        ticket = uuid.UUID(body["ticket_id"])
    except (KeyError, ValueError, TypeError):
        return web.json_response({"error": "invalid"}, status=400)
    async with request.app[POOL].acquire() as conn:
        result = await conn.execute(
            "UPDATE bench_baseline SET used = true, admitted_at = now() "
            "WHERE id = $1 AND user_id = $2 AND used = false",
            ticket,
            uuid.UUID(claims["sub"]),
        )
    if result != "UPDATE 1":
        return web.json_response({"error": "already_redeemed"}, status=409)
    return web.json_response({"status": "ok", "ticket_id": str(ticket)})


def main() -> None:
    port, dsn, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app = web.Application()
    app[SECRET] = secret

    async def pool(app: web.Application) -> AsyncIterator[None]:
        # The same pool size as the app's (server.db.create_pool).
        app[POOL] = await asyncpg.create_pool(dsn, min_size=2, max_size=20)
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    app.router.add_post("/validate", validate)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
