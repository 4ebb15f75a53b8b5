"""HTTP routes under /api/live for events and stream keys."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from server import validate
from server.accounts.auth import require_user
from server.errors import bad_request
from server.keys import DB
from server.live import service, store

routes = web.RouteTableDef()
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_PRICE = 100_000_00  # 100,000.00 in a two-decimal currency


def _fields(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    """Validated event fields; with `partial`, only those present."""
    out: dict[str, Any] = {}
    need = not partial
    if need or "title" in body:
        out["title"] = validate.text(body, "title", max_len=200)
    if need or "description" in body:
        out["description"] = validate.text(body, "description", min_len=0, max_len=5000,
                                           required=False, multiline=True)
    if need or "starts_at" in body:
        out["starts_at"] = validate.timestamp(body, "starts_at")
    if need or "price" in body:
        out["price_minor"] = validate.integer(body, "price", minimum=0, maximum=MAX_PRICE)
    if need or "currency" in body:
        currency = body.get("currency", "EUR" if need else None)
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise bad_request("currency must be an ISO 4217 code like EUR", "invalid_field")
        out["currency"] = currency
    if need or "capacity" in body:
        out["capacity"] = validate.integer(body, "capacity", minimum=1, maximum=1_000_000,
                                           required=False)
    if need or "replay_access" in body:
        out["replay_access"] = validate.boolean(body, "replay_access", False)
    if partial and not out:
        raise bad_request("nothing to change", "invalid_field")
    return out


@routes.post("/api/live/create", name="live_create")
async def create(request: web.Request) -> web.Response:
    """An artist schedules an event; the reply holds its stream key, shown this once."""
    artist = await require_user(request, "artist")
    fields = _fields(await validate.read_json(request), partial=False)
    return web.json_response(await service.create(request.app, artist, fields), status=201)


@routes.get("/api/live", name="live_list")
async def listing(request: web.Request) -> web.Response:
    """Upcoming and live events, for anyone."""
    raw = request.query.get("limit", "50")
    limit = min(max(int(raw), 1), 200) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else 50
    async with request.app[DB].acquire() as conn:
        rows = await store.listing(conn, ("scheduled", "live"), limit)
    return web.json_response({"events": [service.event_json(r) for r in rows]})


@routes.get("/api/live/mine", name="live_mine")
async def mine(request: web.Request) -> web.Response:
    """The calling artist's events in every state."""
    artist = await require_user(request, "artist")
    async with request.app[DB].acquire() as conn:
        rows = await store.listing(conn, ("scheduled", "live", "ended", "cancelled"), 500,
                                   artist.user_id)
    return web.json_response({"events": [service.event_json(r) for r in rows]})


@routes.get("/api/live/{id}", name="live_get")
async def get(request: web.Request) -> web.Response:
    """One event."""
    event = await service.get_event(request.app, validate.path_uuid(request))
    return web.json_response(service.event_json(event))


@routes.patch("/api/live/{id}", name="live_edit")
async def edit(request: web.Request) -> web.Response:
    """The artist edits a scheduled event."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    changes = _fields(await validate.read_json(request), partial=True)
    return web.json_response(await service.edit(request.app, principal, event_id, changes))


@routes.post("/api/live/{id}/cancel", name="live_cancel")
async def cancel(request: web.Request) -> web.Response:
    """The artist cancels a scheduled event."""
    principal = await require_user(request)
    return web.json_response(
        await service.cancel(request.app, principal, validate.path_uuid(request)))


@routes.post("/api/live/{id}/stream-key", name="live_rotate_key")
async def rotate_key(request: web.Request) -> web.Response:
    """The artist replaces the stream key; the new one is shown this once."""
    principal = await require_user(request)
    return web.json_response(
        await service.rotate_key(request.app, principal, validate.path_uuid(request)))
