"""Operator endpoints: /healthz, /readyz, /metrics, /api/openapi.json."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server import api
from server.keys import DB, REDIS
from server.ops.models import Health, Readiness

routes = web.RouteTableDef()


@routes.get("/healthz", name="healthz")
@api.spec({200: Health}, public=True, tag="ops")
async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return api.reply(Health(status="ok"))


@routes.get("/readyz", name="readyz")
@api.spec({200: Readiness, 503: Readiness}, public=True, tag="ops")
async def readyz(request: web.Request) -> web.Response:
    """PostgreSQL and Redis answer within a second."""
    checks: dict[str, str] = {}

    async def db() -> None:
        async with request.app[DB].acquire() as conn:
            await conn.fetchval("SELECT 1")

    for name, probe in (("database", db), ("redis", request.app[REDIS].ping)):
        try:
            await asyncio.wait_for(probe(), timeout=1.0)
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return api.reply(
        Readiness(status="ready" if ready else "not ready", checks=checks),
        status=200 if ready else 503,
    )


@routes.get("/metrics", name="metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition."""
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


@routes.get("/api/openapi.json", name="openapi")
@api.spec({200: api.Media("application/json", {"type": "object"})}, public=True, tag="ops")
async def openapi(request: web.Request) -> web.Response:
    """This OpenAPI 3.1 document, generated from the routes' declared models."""
    return web.json_response(api.openapi(request.app))
