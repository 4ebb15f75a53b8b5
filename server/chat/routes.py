"""HTTP routes of the chat: moderator assignment, viewer count, history and sanctions."""

from __future__ import annotations

from aiohttp import web

from server import api, validate
from server.accounts.auth import require_user
from server.chat import moderation, rooms
from server.chat.models import (
    History,
    ModeratorAssigned,
    ModeratorIn,
    Moderators,
    Sanctions,
    Viewers,
)

routes = web.RouteTableDef()


@routes.post("/api/live/{id}/moderators", name="chat_moderator_assign")
@api.spec({200: ModeratorAssigned, 201: ModeratorAssigned}, body=ModeratorIn, tag="chat")
async def assign(request: web.Request) -> web.Response:
    """The artist (or an admin) assigns a chat moderator: {"user_id"}."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    user_id = (await api.body(request, ModeratorIn)).user_id
    created = await moderation.assign_moderator(request.app, principal, event_id, user_id)
    return api.reply(
        ModeratorAssigned(event_id=event_id, user_id=user_id), status=201 if created else 200
    )


@routes.delete("/api/live/{id}/moderators/{user_id}", name="chat_moderator_remove")
@api.spec({204: None}, tag="chat")
async def unassign(request: web.Request) -> web.Response:
    """The artist (or an admin) removes a chat moderator."""
    principal = await require_user(request)
    await moderation.unassign_moderator(
        request.app, principal, validate.path_uuid(request), validate.path_uuid(request, "user_id")
    )
    return web.Response(status=204)


@routes.get("/api/live/{id}/moderators", name="chat_moderator_list")
@api.spec({200: Moderators}, tag="chat")
async def moderators(request: web.Request) -> web.Response:
    """The event's assigned moderators (for its moderators)."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    found = await moderation.list_moderators(request.app, principal, event_id)
    return api.reply({"event_id": str(event_id), "moderators": found}, Moderators)


@routes.get("/api/live/{id}/viewers", name="chat_viewers")
@api.spec({200: Viewers}, public=True, tag="chat")
async def viewers(request: web.Request) -> web.Response:
    """Live viewer count: distinct users in the event's chat across all processes."""
    event_id = validate.path_uuid(request)
    count = await rooms.viewers(request.app, event_id)
    return api.reply(Viewers(event_id=event_id, viewers=count))


@routes.get("/api/live/{id}/chat", name="chat_history")
@api.spec({200: History}, tag="chat")
async def history(request: web.Request) -> web.Response:
    """The last 50 visible messages (for anyone who may watch the event)."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    messages = await rooms.history(request.app, principal, event_id)
    return api.reply({"event_id": str(event_id), "messages": messages}, History)


@routes.get("/api/live/{id}/chat/sanctions", name="chat_sanctions")
@api.spec({200: Sanctions}, tag="chat")
async def sanctions(request: web.Request) -> web.Response:
    """Bans and running timeouts (for the event's moderators)."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    found = await moderation.list_sanctions(request.app, principal, event_id)
    return api.reply({"event_id": str(event_id), "sanctions": found}, Sanctions)
