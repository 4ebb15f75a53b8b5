"""HTTP routes of the feeds."""

from __future__ import annotations

from aiohttp import web

from media.engagement.models import FeedPage, FeedQuery
from media.feeds import service
from server import api
from server.accounts.auth import optional_user, require_user

routes = web.RouteTableDef()


def _page(page: service.Page) -> web.Response:
    return api.reply({"items": page.items, "next": page.next}, FeedPage)


@routes.get("/api/feed/discovery", name="feed_discovery")
@api.spec({200: FeedPage}, query=FeedQuery, public=True, tag="feeds")
async def discovery(request: web.Request) -> web.Response:
    """Videos ranked for the caller: followed artists, realm, freshness, not yet seen."""
    q = api.query(request, FeedQuery)
    principal = await optional_user(request)
    viewer = principal.user_id if principal else None
    return _page(await service.discovery(request.app, viewer, q.cursor, q.limit))


@routes.get("/api/feed/trending", name="feed_trending")
@api.spec({200: FeedPage}, query=FeedQuery, public=True, tag="feeds")
async def trending(request: web.Request) -> web.Response:
    """Public videos by time-decayed views, likes and watch time."""
    q = api.query(request, FeedQuery)
    principal = await optional_user(request)
    viewer = principal.user_id if principal else None
    return _page(await service.trending(request.app, viewer, q.cursor, q.limit))


@routes.get("/api/feed/following", name="feed_following")
@api.spec({200: FeedPage}, query=FeedQuery, tag="feeds")
async def following(request: web.Request) -> web.Response:
    """The newest videos of the artists the caller follows."""
    principal = await require_user(request)
    q = api.query(request, FeedQuery)
    return _page(await service.following(request.app, principal.user_id, q.cursor, q.limit))
