"""HTTP routes of artist analytics."""

from __future__ import annotations

from aiohttp import web

from media.analytics import service
from media.engagement.models import Analytics, AnalyticsQuery
from server import api
from server.accounts.auth import require_user
from server.keys import DB

routes = web.RouteTableDef()


@routes.get("/api/artists/me/analytics", name="artist_analytics")
@api.spec({200: Analytics}, query=AnalyticsQuery, tag="analytics")
async def analytics(request: web.Request) -> web.Response:
    """The caller's figures per day or week: views, viewers, watch time, likes, followers, money."""
    principal = await require_user(request, "artist")
    q = api.query(request, AnalyticsQuery)
    first, last = service.parse_range(q.from_, q.to)
    async with request.app[DB].acquire() as conn:
        data = await service.analytics(conn, principal.user_id, first, last, q.bucket)
    return api.reply(data, Analytics)
