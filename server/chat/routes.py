"""HTTP routes of the chat: moderator assignment, viewer count, history and sanctions."""

from __future__ import annotations

from aiohttp import web

from server import validate
from server.accounts.auth import require_user
from server.chat import moderation, rooms

routes = web.RouteTableDef()


@routes.post("/api/live/{id}/moderators", name="chat_moderator_assign")
async def assign(request: web.Request) -> web.Response:
    """The artist (or an admin) assigns a chat moderator: {"user_id"}."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    body = await validate.read_json(request)
    user_id = validate.uuid_value(body.get("user_id"), "user_id")
    created = await moderation.assign_moderator(request.app, principal, event_id, user_id)
    return web.json_response({"event_id": str(event_id), "user_id": str(user_id)},
                             status=201 if created else 200)


@routes.delete("/api/live/{id}/moderators/{user_id}", name="chat_moderator_remove")
async def unassign(request: web.Request) -> web.Response:
    """The artist (or an admin) removes a chat moderator."""
    principal = await require_user(request)
    await moderation.unassign_moderator(request.app, principal, validate.path_uuid(request),
                                     validate.path_uuid(request, "user_id"))
    return web.Response(status=204)


@routes.get("/api/live/{id}/moderators", name="chat_moderator_list")
async def moderators(request: web.Request) -> web.Response:
    """The event's assigned moderators (for its moderators)."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    found = await moderation.list_moderators(request.app, principal, event_id)
    return web.json_response({"event_id": str(event_id), "moderators": found})


@routes.get("/api/live/{id}/viewers", name="chat_viewers")
async def viewers(request: web.Request) -> web.Response:
    """Live viewer count: distinct users in the event's chat across all processes."""
    event_id = validate.path_uuid(request)
    count = await rooms.viewers(request.app, event_id)
    return web.json_response({"event_id": str(event_id), "viewers": count})


@routes.get("/api/live/{id}/chat", name="chat_history")
async def history(request: web.Request) -> web.Response:
    """The last 50 visible messages (for anyone who may watch the event)."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    messages = await rooms.history(request.app, principal, event_id)
    return web.json_response({"event_id": str(event_id), "messages": messages})


@routes.get("/api/live/{id}/chat/sanctions", name="chat_sanctions")
async def sanctions(request: web.Request) -> web.Response:
    """Bans and running timeouts (for the event's moderators)."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    found = await moderation.list_sanctions(request.app, principal, event_id)
    return web.json_response({"event_id": str(event_id), "sanctions": found})
