"""Error rendering and request metrics."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from server.errors import ApiError
from server.metrics import REQUEST_LATENCY

log = logging.getLogger(__name__)


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as `{"error": {...}}` with the right status; 500s hide details."""
    try:
        return await handler(request)
    except ApiError as exc:
        resp = web.json_response(exc.body(), status=exc.status)
        if "retry_after" in exc.extra:
            resp.headers["Retry-After"] = str(exc.extra["retry_after"])
        return resp
    except web.HTTPRequestEntityTooLarge:
        return _json_error(413, "too_large", "request body too large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        resp = _json_error(exc.status, code, exc.reason)
        if "Allow" in exc.headers:  # 405 names the methods the route does take (RFC 9110)
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    except Exception:
        # The route name, never the path: hook paths carry MHC_HOOK_SECRET, others carry tokens.
        route = request.match_info.route.name or "unmatched"
        log.exception("unhandled error on %s %s", request.method, route)
        return _json_error(500, "internal", "internal server error")


@web.middleware
async def metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency per named route (not per raw path, so ids do not explode label cardinality)."""
    start = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    finally:
        route = request.match_info.route.name or "unmatched"
        REQUEST_LATENCY.labels(request.method, route, str(status)).observe(
            time.perf_counter() - start
        )
