"""Playback grant routes and the internal gate nginx asks on every HLS request."""

from __future__ import annotations

from aiohttp import web

from server import api, validate
from server.accounts.auth import require_user
from server.clientip import client_ip
from server.errors import forbidden, not_found
from server.playback import service
from server.playback.models import PlaybackGrant, PlaybackIn, Revoked

routes = web.RouteTableDef()


@routes.post("/api/live/{id}/playback", name="playback_grant")
@api.spec({200: PlaybackGrant}, body=PlaybackIn, body_required=False, tag="playback")
async def grant(request: web.Request) -> web.Response:
    """Grant a playback token; send `{"session_id"}` to renew an existing session."""
    principal = await require_user(request)
    event_id = validate.path_uuid(request)
    session_id = (await api.body(request, PlaybackIn)).session_id
    return api.reply(
        await service.grant(request.app, principal, event_id, session_id, client_ip(request)),
        PlaybackGrant,
    )


@routes.delete("/api/playback/{id}", name="playback_revoke")
@api.spec({200: Revoked}, tag="playback")
async def revoke(request: web.Request) -> web.Response:
    """The viewer (or an admin) ends a playback session."""
    principal = await require_user(request)
    session_id = validate.path_uuid(request)
    owner = await service.session_owner(request.app, session_id)
    if owner is None:
        raise not_found("playback session")
    if owner != principal.user_id and not principal.is_admin:
        raise forbidden("not your session")
    revoked = await service.revoke(request.app, [session_id], "viewer_ended", principal.user_id)
    return api.reply(Revoked(revoked=revoked))


@routes.get("/internal/play-auth", name="playback_gate")
async def gate(request: web.Request) -> web.Response:
    """nginx auth_request target for /play/ and /replay/: 200 allows, 403 denies."""
    uri = request.headers.get("X-Original-URI", "")
    allowed = await service.gate(request.app, uri)
    # 200, not 204: nginx caches the allow for a few seconds (proxy_cache_valid 200).
    return web.Response(status=200 if allowed else 403)
