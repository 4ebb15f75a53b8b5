"""The API's declared contract: bodies and queries validated by their models, the OpenAPI
document describing every body and reply with the right security, and 405s naming `Allow`."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.conftest import Api, admin_token

PUBLIC = {
    "POST /api/auth/register",
    "POST /api/auth/login",
    "POST /api/auth/refresh",
    "POST /api/auth/password/forgot",
    "POST /api/auth/password/reset",
    "GET /api/users/{id}/avatar",
    "GET /api/live",
    "GET /api/live/{id}",
    "GET /api/live/{id}/viewers",
    "GET /api/forensics/public-key",
    "GET /api/openapi.json",
    "GET /healthz",
    "GET /readyz",
    "POST /api/payments/stripe/webhook",
    "OPTIONS /api/videos/uploads",
    "OPTIONS /api/videos/uploads/{upload_id}",
    "GET /api/videos/{id}",
    "POST /api/videos/{id}/playback",
    "GET /api/videos/{id}/poster",
    "GET /api/artists/{id}/videos",
    "POST /api/recommendation/video/{id}/view",
    "POST /api/recommendation/video/{id}/watchtime",
    "GET /api/feed/discovery",
    "GET /api/feed/trending",
    "GET /api/artists/{id}",
    "GET /api/videos/{id}/comments",
}
# Routes whose JSON body the models parse.
JSON_BODIES = {
    "POST /api/auth/register",
    "POST /api/auth/login",
    "POST /api/auth/refresh",
    "POST /api/auth/logout",
    "POST /api/admin/users/{id}/role",
    "POST /api/live/create",
    "PATCH /api/live/{id}",
    "POST /api/live/{id}/playback",
    "POST /api/live/{id}/moderators",
    "POST /api/tickets/purchase",
    "POST /api/tickets/validate",
    "POST /api/payments/dev/{payment}/confirm",
    "POST /api/forensics/verify",
    "POST /api/forensics/export",
    "POST /api/forensics/erase",
    "POST /api/distribution/withdraw",
    "POST /api/ledger/payout-accounts/sepa",
    "POST /api/ledger/payouts/batches/{id}/settle",
    "PATCH /api/videos/{id}",
    "POST /api/recommendation/video/{id}/watchtime",
    "POST /api/recommendation/video/{id}/like",
}
# Routes whose body is not JSON: a file's bytes, or a multipart form the handler streams.
RAW_BODIES = {
    "PATCH /api/videos/uploads/{upload_id}": "application/offset+octet-stream",
    "POST /api/distribution/upload": "multipart/form-data",
}
# POST routes that act on the path alone and take no body.
NO_BODY = {
    "POST /api/live/{id}/cancel",
    "POST /api/live/{id}/stream-key",
    "POST /api/forensics/snapshot",
    "POST /api/tickets/{id}/reenter",
    "POST /api/tickets/{id}/refund",
    "POST /api/tips/{id}/refund",
    "POST /api/ledger/payouts/batches",
    "POST /api/distribution/releases/{id}/takedown",
    "POST /api/videos/uploads",
    "POST /api/videos/{id}/playback",
    "POST /api/recommendation/video/{id}/view",
    "POST /api/artists/{id}/follow",
}


async def _document(api: Api) -> dict[str, Any]:
    status, doc = await api.call("GET", "/api/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    return doc  # type: ignore[no-any-return]


def _operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


async def test_document_describes_every_body_and_reply(api: Api) -> None:
    doc = await _document(api)
    ops = _operations(doc)
    writes = [name for name in ops if name.split()[0] in ("POST", "PATCH")]
    assert len(writes) >= 21 and set(writes) >= JSON_BODIES
    for name in writes:
        if name in NO_BODY:
            assert "requestBody" not in ops[name], name
            continue
        if name in RAW_BODIES:
            assert list(ops[name]["requestBody"]["content"]) == [RAW_BODIES[name]], name
            continue
        body = ops[name]["requestBody"]["content"]["application/json"]["schema"]
        assert _resolve(doc, body)["properties"], name
    for name, op in ops.items():
        ok = {status: r for status, r in op["responses"].items() if status.startswith("2")}
        assert ok, name
        for status, reply in ok.items():
            assert status == "204" or reply["content"], name
        error = op["responses"]["4XX"]["content"]["application/json"]["schema"]
        assert _resolve(doc, error)["required"] == ["error"], name


async def test_document_marks_public_routes_without_security(api: Api) -> None:
    ops = _operations(await _document(api))
    assert {name for name, op in ops.items() if op["security"] == []} == PUBLIC
    for name, op in ops.items():
        if name not in PUBLIC:
            assert op["security"] == [{"bearer": []}], name
    # The document says who may call: each public route answers without a token.
    for name in ("GET /api/live", "GET /api/forensics/public-key", "GET /healthz"):
        status, _ = await api.call("GET", name.split()[1])
        assert status == 200, name


async def test_bodies_refuse_unknown_fields_and_wrong_types(api: Api) -> None:
    artist = await api.register("artist")
    good = {"title": "Show", "starts_at": "2030-01-01T20:00:00Z", "price": 299}
    for bad in (
        {**good, "admin": True},
        {**good, "price": "299"},
        {**good, "price": 2.5},
        {**good, "price": True},
        {**good, "price": 1e20},
        {**good, "title": 5},
    ):
        status, body = await api.call("POST", "/api/live/create", token=artist["access"], json=bad)
        assert status == 400 and body["error"]["code"] == "invalid_field", (bad, body)
        assert set(body["error"]) == {"code", "message"}
    status, body = await api.call(
        "POST",
        "/api/auth/register",
        json={
            "email": f"x-{uuid.uuid4().hex[:8]}@example.test",
            "password": "long enough",
            "role": "fan",
            "is_admin": True,
        },
    )
    assert status == 400 and "is_admin" in body["error"]["message"], body
    # JSON has one number type: 299.0 is the integer 299 (as JSON Schema says).
    status, event = await api.call(
        "POST", "/api/live/create", token=artist["access"], json={**good, "price": 299.0}
    )
    assert status == 201 and event["price"] == 299, event


async def test_deeply_nested_json_is_refused_on_every_json_route(api: Api) -> None:
    token = await admin_token(api)
    some_id = str(uuid.uuid4())
    deep = [b"[" * 20_000, b'{"a":' * 20_000, b"[" * 20_000 + b"]" * 20_000]
    for name in sorted(JSON_BODIES):
        method, path = name.split()
        path = (
            path.replace("{id}", some_id)
            .replace("{user_id}", some_id)
            .replace("{payment}", "pay_x")
        )
        for raw in deep:
            status, body = await api.call(
                method, path, token=token, data=raw, headers={"Content-Type": "application/json"}
            )
            assert 400 <= status < 500, (name, status, body)
            assert isinstance(body, dict) and body["error"]["code"], (name, body)


async def test_unsupported_method_is_405_with_allow(api: Api) -> None:
    for method, path, allowed in (
        ("DELETE", "/api/auth/login", {"POST"}),
        ("PUT", f"/api/live/{uuid.uuid4()}", {"GET", "PATCH"}),
        ("POST", "/api/forensics/logs", {"GET"}),
    ):
        async with api.session.request(method, api.base_url + path) as resp:
            assert resp.status == 405, path
            assert set(resp.headers["Allow"].split(",")) - {"HEAD"} == allowed, resp.headers[
                "Allow"
            ]
            body = await resp.json()
            assert body["error"]["code"] == "method_not_allowed", body


async def test_event_start_before_2000_is_refused(api: Api) -> None:
    # Year 1 was stored and came back without a zone, which no client can read as documented.
    artist = await api.register("artist")
    show = {"title": "Show", "price": 0}
    for starts in ("0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z"):
        status, body = await api.call(
            "POST", "/api/live/create", token=artist["access"], json={**show, "starts_at": starts}
        )
        assert status == 400 and body["error"]["code"] == "invalid_field", (starts, body)
    status, event = await api.call(
        "POST",
        "/api/live/create",
        token=artist["access"],
        json={**show, "starts_at": "2000-01-01T00:00:00Z"},
    )
    assert status == 201 and event["starts_at"] == "2000-01-01T00:00:00+00:00", event
    status, body = await api.call(
        "PATCH",
        f"/api/live/{event['id']}",
        token=artist["access"],
        json={"starts_at": "0001-01-01T00:00:00Z"},
    )
    assert status == 400 and body["error"]["code"] == "invalid_field", body


async def test_documented_text_pattern_is_what_the_server_takes(api: Api) -> None:
    doc = await _document(api)
    title = doc["components"]["schemas"]["EventIn"]["properties"]["title"]
    pattern = re.compile(title["pattern"])
    artist = await api.register("artist")
    show = {"starts_at": "2030-01-01T20:00:00Z", "price": 0}
    for value in ("\r^", " a ", "\ta\n", "a\x00b", "\u00a0a", "a\x1f", "\x1ca", "a b", " "):
        status, body = await api.call(
            "POST", "/api/live/create", token=artist["access"], json={**show, "title": value}
        )
        documented = bool(pattern.search(value)) and len(value) <= title["maxLength"]
        assert (status == 201) == documented, (value, status, body)
