"""The form-encoded callbacks nginx-rtmp makes: on_publish, on_publish_done, on_play.

nginx reaches them at /hooks/rtmp/<hook secret>/<name>: the secret in the path keeps anyone
who can reach the app port from starting or ending a stream.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from server.errors import ApiError, bad_request
from server.keys import CONFIG
from server.live import service
from server.metrics import AUTH_DECISIONS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_MAX_FIELD = 512


async def _form(request: web.Request, *required: str) -> dict[str, str]:
    """Check the path secret and return the hook's fields, or raise 4xx."""
    given = request.match_info["secret"].encode()
    if not hmac.compare_digest(given, request.app[CONFIG].hook_secret.encode()):
        raise ApiError(403, "forbidden", "bad hook secret")
    if request.content_type != "application/x-www-form-urlencoded":
        raise bad_request("hooks are form-encoded", "invalid_form")
    try:
        form = await request.post()
    except ValueError:
        raise bad_request("malformed form body", "invalid_form") from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    for name in required:
        value = fields.get(name, "")
        if not value or len(value) > _MAX_FIELD:
            raise bad_request(f"field {name} missing or too long", "invalid_form")
    return fields


@routes.post("/hooks/rtmp/{secret}/publish", name="hook_publish")
async def on_publish(request: web.Request) -> web.Response:
    """Accept a valid key by renaming the stream to its event id; refuse anything else."""
    fields = await _form(request, "name", "clientid")
    if fields.get("call", "publish") != "publish":
        raise bad_request("call must be publish", "invalid_form")
    event_id = await service.publish_started(request.app, fields["name"], fields["clientid"])
    if event_id is None:
        raise ApiError(
            403,
            "publish_refused",
            "unknown key, event not open for streaming, or already publishing",
        )
    # nginx-rtmp treats a 3xx whose Location has no rtmp:// as "rename the stream".
    return web.Response(status=302, headers={"Location": str(event_id)})


@routes.post("/hooks/rtmp/{secret}/publish_done", name="hook_publish_done")
async def on_publish_done(request: web.Request) -> web.Response:
    """Mark the event ended when its publisher leaves."""
    fields = await _form(request, "name", "clientid")
    await service.publish_ended(request.app, fields["name"], fields["clientid"])
    return web.Response(status=204)


@routes.post("/hooks/rtmp/{secret}/relay_publish", name="hook_relay_publish")
async def on_relay_publish(request: web.Request) -> web.Response:
    """The loopback HLS application takes a stream only for an event that is on air now."""
    fields = await _form(request, "name")
    if not await service.is_on_air(request.app, fields["name"]):
        raise ApiError(403, "publish_refused", "no accepted publisher for this stream")
    return web.Response(status=204)


def is_local_relay(fields: dict[str, str]) -> bool:
    """nginx's own push into the loopback HLS application, not a viewer.

    A relay's pseudo-connection reports `addr` as "host:port/app", which no TCP client can
    produce (nginx fills `addr` from the socket); clients pick `flashver`, so that alone is no proof.
    """
    addr = fields.get("addr", "")
    return fields.get("flashver") == "ngx-local-relay" and "/" in addr and addr.endswith("/hls")


@routes.post("/hooks/rtmp/{secret}/update", name="hook_update")
async def on_update(request: web.Request) -> web.Response:
    """nginx's periodic report on a publisher; keeps its claim on the event fresh.

    nginx-rtmp drops the publisher on any non-2xx reply, so only a deliberate refusal answers
    403: the event's claim now belongs to another publisher (it went stale and was taken over)
    or the event is over. The app's own failures answer 204: a database blip must not end a show.
    """
    fields = await _form(request, "name", "clientid")
    if not (fields.get("call", "").startswith("update_publish") or fields.get("call") == "update"):
        return web.Response(status=204)
    try:
        holds = await service.publisher_alive(request.app, fields["name"], fields["clientid"])
    except Exception:
        log.warning(
            "publisher heartbeat not recorded; the publisher keeps streaming", exc_info=True
        )
        return web.Response(status=204)
    if holds is False:
        raise ApiError(403, "publisher_replaced", "this publisher no longer holds the event")
    # A name that matches no event is not refused: a claim nobody refreshes just ages out.
    return web.Response(status=204)


@routes.post("/hooks/rtmp/{secret}/play", name="hook_play")
async def on_play(request: web.Request) -> web.Response:
    """Viewers watch over HLS only: RTMP playback is refused, except nginx's own HLS relay."""
    fields = await _form(request)
    if is_local_relay(fields):
        return web.Response(status=204)
    AUTH_DECISIONS.labels("rtmp_play", "denied").inc()
    raise ApiError(403, "rtmp_play_refused", "watch over HLS")
