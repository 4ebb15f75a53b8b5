"""Engagement: views, watch time, likes, follows and profiles; `setup` plugs in every route of
feeds, engagement, comments and analytics."""

from __future__ import annotations

from aiohttp import web

from media.analytics.routes import routes as analytics_routes
from media.comments import service as comments
from media.comments.routes import routes as comment_routes
from media.engagement import config
from media.engagement.routes import routes as engagement_routes
from media.feeds.routes import routes as feed_routes
from server.keys import CONFIG


def setup(app: web.Application) -> None:
    """Validate the settings and add the routes and the comment events."""
    app[config.ENGAGE_CONFIG] = config.load(app[CONFIG])
    # The analytics route comes before the profile's `/api/artists/{id}`, which "me" would match.
    for table in (analytics_routes, engagement_routes, feed_routes, comment_routes):
        app.router.add_routes(table)
    comments.setup(app)
