"""HTTP routes under /api/live for events and stream keys."""

from __future__ import annotations

from aiohttp import web

from server import api, validate
from server.accounts.auth import require_user
from server.live import service
from server.live.models import CreatedEvent, Event, EventEdit, EventIn, Events, ListQuery, StreamKey

routes = web.RouteTableDef()


@routes.post("/api/live/create", name="live_create")
@api.spec({201: CreatedEvent}, body=EventIn, tag="live")
async def create(request: web.Request) -> web.Response:
    """An artist schedules an event; the reply holds its stream key, shown this once."""
    artist = await require_user(request, "artist")
    fields = (await api.body(request, EventIn)).fields()
    return api.reply(await service.create(request.app, artist, fields), CreatedEvent, status=201)


@routes.get("/api/live", name="live_list")
@api.spec({200: Events}, query=ListQuery, public=True, tag="live")
async def listing(request: web.Request) -> web.Response:
    """Upcoming and live events, for anyone."""
    limit = api.query(request, ListQuery).limit
    events = await service.listing(request.app, ("scheduled", "live"), limit)
    return api.reply({"events": [event.to_json() for event in events]}, Events)


@routes.get("/api/live/mine", name="live_mine")
@api.spec({200: Events}, tag="live")
async def mine(request: web.Request) -> web.Response:
    """The calling artist's events in every state."""
    artist = await require_user(request, "artist")
    events = await service.listing(
        request.app, ("scheduled", "live", "ended", "cancelled"), 500, artist.user_id
    )
    return api.reply({"events": [event.to_json() for event in events]}, Events)


@routes.get("/api/live/{id}", name="live_get")
@api.spec({200: Event}, public=True, tag="live")
async def get(request: web.Request) -> web.Response:
    """One event."""
    event = await service.get_event(request.app, validate.path_uuid(request))
    return api.reply(event.to_json(), Event)


@routes.patch("/api/live/{id}", name="live_edit")
@api.spec({200: Event}, body=EventEdit, tag="live")
async def edit(request: web.Request) -> web.Response:
    """The artist edits a scheduled event."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    changes = (await api.body(request, EventEdit)).changes()
    return api.reply(await service.edit(request.app, principal, event_id, changes), Event)


@routes.post("/api/live/{id}/cancel", name="live_cancel")
@api.spec({200: Event}, tag="live")
async def cancel(request: web.Request) -> web.Response:
    """The artist cancels a scheduled event."""
    principal = await require_user(request)
    return api.reply(
        await service.cancel(request.app, principal, validate.path_uuid(request)), Event
    )


@routes.post("/api/live/{id}/stream-key", name="live_rotate_key")
@api.spec({200: StreamKey}, tag="live")
async def rotate_key(request: web.Request) -> web.Response:
    """The artist replaces the stream key; the new one is shown this once."""
    principal = await require_user(request)
    return api.reply(
        await service.rotate_key(request.app, principal, validate.path_uuid(request)), StreamKey
    )
