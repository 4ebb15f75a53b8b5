"""What an operator would otherwise deploy: a minimal aiohttp endpoint over a bare query.

`GET /trending` runs `SELECT ... FROM bench_trending ORDER BY hot DESC LIMIT 20` on a table
of the feed index's shape (and an index on `hot`) and answers the rows as JSON; nothing else
(no live cards, no artist names, no cursors, no validation). Served as its own process.

Usage: python bench/feed/baseline_app.py PORT DATABASE_URL
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)


async def trending(request: web.Request) -> web.Response:
    """The 20 hottest rows."""
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            """SELECT video_id, artist_id, title, realm, visibility, tags, duration_s,
                      published_at, hot
            FROM bench_trending ORDER BY hot DESC LIMIT 20"""
        )
    return web.json_response(
        {
            "items": [
                {
                    "id": str(r["video_id"]),
                    "artist_id": str(r["artist_id"]),
                    "title": r["title"],
                    "realm": r["realm"],
                    "visibility": r["visibility"],
                    "tags": list(r["tags"]),
                    "duration_s": r["duration_s"],
                    "published_at": r["published_at"].isoformat(),
                    "hot": r["hot"],
                }
                for r in rows
            ]
        }
    )


def main() -> None:
    port, dsn = int(sys.argv[1]), sys.argv[2]
    app = web.Application()

    async def pool(app: web.Application) -> AsyncIterator[None]:
        # The same pool size as the app's (server.db.create_pool).
        app[POOL] = await asyncpg.create_pool(dsn, min_size=2, max_size=20)
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    app.router.add_get("/trending", trending)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
