"""Serving the browser client's static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
routes = web.RouteTableDef()


@routes.get("/", name="web_index")
async def index(request: web.Request) -> web.FileResponse:
    """The browser client."""
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


routes.static("/static", STATIC, name="web_static")
