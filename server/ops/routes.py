"""Operator endpoints: /healthz, /readyz, /metrics, /api/openapi.json."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.keys import DB, REDIS

routes = web.RouteTableDef()


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz", name="readyz")
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
        except Exception as exc:  # any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                             status=200 if ready else 503)


@routes.get("/metrics", name="metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition."""
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


@routes.get("/api/openapi.json", name="openapi")
async def openapi(request: web.Request) -> web.Response:
    """An OpenAPI 3.1 document generated from the registered routes and their docstrings."""
    return web.json_response(build_openapi(request.app))


def build_openapi(app: web.Application) -> dict[str, Any]:
    """Describe every /api route: method, path parameters, summary, auth and error shape."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if not path or not path.startswith("/api/") or route.method in ("HEAD", "*"):
            continue
        doc = (route.handler.__doc__ or "").strip().splitlines()
        params = [{"name": p.strip("{}"), "in": "path", "required": True,
                   "schema": {"type": "string", "format": "uuid"}}
                  for p in path.split("/") if p.startswith("{")]
        paths.setdefault(path, {})[route.method.lower()] = {
            "operationId": route.name or route.handler.__name__,
            "summary": doc[0] if doc else "",
            "parameters": params,
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "success"},
                "4XX": {"description": "error",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "MHC Live API", "version": "1"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Error": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"],
                                         "properties": {"code": {"type": "string"},
                                                        "message": {"type": "string"}}}}}},
        },
    }
