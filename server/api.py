"""Declared routes: typed bodies, queries and replies, and the OpenAPI document built from them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import models_json_schema
from pydantic_core import ErrorDetails, to_json

from server.errors import ApiError, bad_request

M = TypeVar("M", bound=BaseModel)
H = TypeVar("H", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])


class Body(BaseModel):
    """A request body: unknown fields refused, no type coercion (a string is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Query(BaseModel):
    """Query parameters: every value arrives as a string; unknown names are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Reply(BaseModel):
    """A response body; fields a later version adds pass through (clients ignore unknown ones)."""


class Ok(Reply):
    """A plain acknowledgement."""

    ok: bool


@dataclass(frozen=True)
class Media:
    """A non-JSON reply: its media type and, where useful, a schema of its content."""

    media_type: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


Shape = type[BaseModel] | Media
# A reply: one shape, several (content negotiation), or None for no content.
Replies = Mapping[int, Shape | tuple[Shape, ...] | None]


@dataclass(frozen=True)
class Spec:
    """What a route takes and gives, as the OpenAPI document shows it."""

    responses: Replies
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[Query] | None = None
    public: bool = False
    path: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tag: str = ""
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # A body that is not JSON (a file's bytes), read by the handler itself.
    content: Media | None = None


SPECS: dict[Callable[..., Any], Spec] = {}
UUID_PARAM: Mapping[str, Any] = {"type": "string", "format": "uuid"}


def spec(
    responses: Replies,
    *,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    query: type[Query] | None = None,
    public: bool = False,
    path: Mapping[str, Mapping[str, Any]] | None = None,
    tag: str = "",
    headers: Mapping[str, Mapping[str, Any]] | None = None,
    content: Media | None = None,
) -> Callable[[H], H]:
    """Declare a handler's body, query, required headers and replies (under the route decorator)."""

    def register(handler: H) -> H:
        SPECS[handler] = Spec(
            responses, body, body_required, query, public, path or {}, tag, headers or {}, content
        )
        return handler

    return register


def _declared(request: web.Request) -> Spec | None:
    return SPECS.get(request.match_info.route.handler)


def _field(err: ErrorDetails) -> str:
    return ".".join(str(part) for part in err["loc"]) or "body"


def _is_id(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields.get(name)
    return info is not None and info.annotation in (uuid.UUID, uuid.UUID | None)


def _error(exc: ValidationError, model: type[BaseModel], where: str) -> ApiError:
    """The first problem as the documented 400; an id field, missing or malformed, is invalid_id."""
    err = exc.errors(include_url=False)[0]
    kind, name = err["type"], _field(err)
    if kind == "json_invalid":
        return bad_request("body is not valid JSON", "invalid_json")
    if not err["loc"] and kind in ("model_type", "model_attributes_type", "dict_type"):
        return bad_request(f"{where} must be a JSON object", "invalid_json")
    if kind.startswith("uuid") or (kind == "missing" and _is_id(model, name)):
        return bad_request(f"{name} must be a UUID", "invalid_id")
    if kind == "missing":
        return bad_request(f"{name} is required", "invalid_field")
    if kind == "extra_forbidden":
        return bad_request(f"{name} is not a known field", "invalid_field")
    if kind == "string_pattern_mismatch":
        return bad_request(f"{name} is not in the documented format", "invalid_field")
    message = err["msg"].removeprefix("Value error, ")
    return bad_request(f"{name}: {message}", "invalid_field")


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`, or a 400 (413 when too large); an absent optional body is {}."""
    declared = _declared(request)
    assert declared is not None and declared.body is model, "route does not declare this body"
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "too_large", "request body too large") from None
    if not raw:
        if declared.body_required:
            raise bad_request("a JSON body is required", "invalid_json")
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _error(exc, model, "body") from None


def query(request: web.Request, model: type[M]) -> M:
    """The query string as `model`, or a 400; a name given twice is refused."""
    declared = _declared(request)
    assert declared is not None and declared.query is model, "route does not declare this query"
    values: dict[str, str] = {}
    for name, value in request.query.items():
        if name in values:
            raise bad_request(f"{name} is given more than once", "invalid_field")
        values[name] = value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _error(exc, model, "query") from None


def reply(
    data: BaseModel | Mapping[str, Any],
    model: type[BaseModel] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A JSON reply checked against its declared model (a mismatch is our bug: a logged 500)."""
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    else:
        assert model is not None, "a dict reply needs its model"
        model.model_validate(data)
        payload = data
    # pydantic-core's encoder writes the same JSON values as json.dumps several times faster
    # (a feed page: about a quarter of the time), compact and in UTF-8 rather than \u escapes.
    return web.Response(
        body=to_json(payload),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


# ---- OpenAPI ------------------------------------------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _route_path(route: web.AbstractRoute) -> str | None:
    info = route.resource.get_info() if route.resource else {}
    path = info.get("formatter") or info.get("path")
    return path if isinstance(path, str) else None


def openapi(app: web.Application) -> dict[str, Any]:
    """OpenAPI 3.1 for every declared route, its schemas generated from the models."""
    declared: list[tuple[str, str, web.AbstractRoute, Spec]] = []
    for route in app.router.routes():
        found = SPECS.get(route.handler)
        path = _route_path(route)
        if found is not None and path is not None and route.method not in ("HEAD", "*"):
            declared.append((path, route.method.lower(), route, found))
    models: set[type[BaseModel]] = set()
    for _, _, _, item in declared:
        models.update(m for m in (item.body, item.query) if m is not None)
        for shapes in item.responses.values():
            models.update(s for s in _shapes(shapes) if isinstance(s, type))
    ordered = sorted(models, key=lambda m: (m.__module__, m.__qualname__))
    refs, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas = {**defs.get("$defs", {}), "Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for path, method, route, item in declared:
        doc = (route.handler.__doc__ or "").strip().splitlines()
        op: dict[str, Any] = {
            "operationId": route.name or route.handler.__name__,
            "summary": doc[0] if doc else "",
            "parameters": _parameters(path, item, refs, schemas),
            "security": [] if item.public else [{"bearer": []}],
            "responses": _responses(item, refs),
        }
        if item.tag:
            op["tags"] = [item.tag]
        if item.body is not None:
            op["requestBody"] = {
                "required": item.body_required,
                "content": {"application/json": {"schema": refs[(item.body, "validation")]}},
            }
        elif item.content is not None:
            op["requestBody"] = {
                "required": True,
                "content": {item.content.media_type: {"schema": dict(item.content.schema)}},
            }
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "MHC Live API", "version": "1"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": dict(sorted(schemas.items())),
        },
    }


def _parameters(
    path: str, item: Spec, refs: Mapping[Any, Any], schemas: Mapping[str, Any]
) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": dict(item.path.get(name, UUID_PARAM)),
        }
        for name in (part.strip("{}") for part in path.split("/") if part.startswith("{"))
    ]
    params += [
        {"name": name, "in": "header", "required": True, "schema": dict(schema)}
        for name, schema in item.headers.items()
    ]
    if item.query is not None:
        ref = refs[(item.query, "validation")]["$ref"].rsplit("/", 1)[-1]
        shape = schemas[ref]
        required = set(shape.get("required", []))
        for name, prop in shape.get("properties", {}).items():
            entry: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _query_schema(prop),
            }
            if "description" in prop:
                entry["description"] = prop["description"]
            params.append(entry)
    return params


def _query_schema(prop: Mapping[str, Any]) -> dict[str, Any]:
    """A query value is absent or a string: drop the model's null branch and null default."""
    out = {k: v for k, v in prop.items() if k not in ("title", "anyOf")}
    if out.get("default", 0) is None:
        del out["default"]
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        out.update(branches[0])
    elif branches:
        out["anyOf"] = branches
    return out


def _shapes(shapes: Shape | tuple[Shape, ...] | None) -> tuple[Shape, ...]:
    if shapes is None:
        return ()
    return shapes if isinstance(shapes, tuple) else (shapes,)


def _responses(item: Spec, refs: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, shapes in item.responses.items():
        content: dict[str, Any] = {}
        for shape in _shapes(shapes):
            if isinstance(shape, Media):
                content[shape.media_type] = {"schema": dict(shape.schema)}
            else:
                content["application/json"] = {"schema": refs[(shape, "validation")]}
        entry: dict[str, Any] = {"description": "success" if status < 400 else "failure"}
        if content:
            entry["content"] = content
        else:
            entry["description"] = "no content"
        out[str(status)] = entry
    out["4XX"] = {
        "description": "refused: `{error: {code, message}}`",
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    return out
