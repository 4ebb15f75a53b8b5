"""HTTP routes of video comments (posting and moderation go over Socket.IO)."""

from __future__ import annotations

from aiohttp import web

from media.comments import service
from media.engagement.models import CommentPage, CommentQuery
from server import api, validate
from server.accounts.auth import optional_user

routes = web.RouteTableDef()


@routes.get("/api/videos/{id}/comments", name="video_comments")
@api.spec({200: CommentPage}, query=CommentQuery, public=True, tag="comments")
async def comments(request: web.Request) -> web.Response:
    """A video's comments, newest first, each with its replies (one level deep)."""
    video_id = validate.path_uuid(request)
    q = api.query(request, CommentQuery)
    principal = await optional_user(request)
    viewer = principal.user_id if principal else None
    items, nxt = await service.listing(request.app, video_id, viewer, q.cursor, q.limit)
    return api.reply({"items": items, "next": nxt}, CommentPage)
