"""Serving the browser client: the mobile app's web export, on the API's own origin."""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web

# `mobile/` exports its web build here (`npx expo export --platform web`); MHC_WEB_DIR overrides.
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "mobile" / "dist"
# The app's own screens: a reload or a shared link on one of them gets the app's page.
SCREENS = (
    "feed",
    "live",
    "tickets",
    "studio",
    "account",
    "login",
    "register",
    "forgot",
    "upload",
    "golive",
    "analytics",
    "settings",
)
SCREENS_WITH_ID = ("event", "ticket", "watch", "artist")
ASSET_DIRS = ("_expo", "assets")
ROOT_FILES = ("favicon.ico", "zxing_reader.wasm", "metadata.json")
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MHC Live</title></head>
<body><h1>MHC Live</h1><p>The web app is not built. Run <code>./dev up</code> with npm
installed, or <code>cd mobile &amp;&amp; npm ci &amp;&amp; npx expo export --platform web</code>.
The API is at <a href="/api/openapi.json">/api/openapi.json</a>.</p></body></html>
"""
routes = web.RouteTableDef()


def web_dir() -> Path:
    """Where the web export is read from (looked up per request, so a rebuild needs no restart)."""
    configured = os.environ.get("MHC_WEB_DIR")
    return Path(configured).resolve() if configured else DEFAULT_DIR


async def index(request: web.Request) -> web.StreamResponse:
    """The app's page (the router inside it picks the screen from the path)."""
    page = web_dir() / "index.html"
    if not page.is_file():
        return web.Response(text=NOT_BUILT, content_type="text/html")
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


def _inside(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file():
        raise web.HTTPNotFound()
    return target


async def asset(request: web.Request) -> web.FileResponse:
    """A bundle, font or image of the export; bundles are content-hashed, so cached for good."""
    folder = request.match_info["folder"]
    target = _inside(web_dir() / folder, request.match_info["path"])
    return web.FileResponse(
        target, headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


async def root_file(request: web.Request) -> web.FileResponse:
    """A file the export keeps at its root (the scanner's wasm, the icon)."""
    return web.FileResponse(
        _inside(web_dir(), request.path.lstrip("/")), headers={"Cache-Control": "no-cache"}
    )


routes.get("/", name="web_index")(index)
for _screen in SCREENS:
    routes.get(f"/{_screen}", name=f"web_{_screen}")(index)
for _screen in SCREENS_WITH_ID:
    routes.get(f"/{_screen}/{{id}}", name=f"web_{_screen}_id")(index)
for _folder in ASSET_DIRS:
    routes.get(f"/{{folder:{_folder}}}/{{path:.+}}", name=f"web_{_folder.strip('_')}")(asset)
for _file in ROOT_FILES:
    routes.get(f"/{_file}", name=f"web_{_file.replace('.', '_')}")(root_file)
