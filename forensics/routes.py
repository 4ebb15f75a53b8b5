"""HTTP routes under /api/forensics, for admins and auditors."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forensics import service, store
from forensics.checkpoint import verifier_key
from forensics.keys import EXPORTS, FCONFIG, SIGNER
from server import validate
from server.accounts.auth import require_user
from server.errors import ApiError, bad_request, not_found
from server.keys import DB

routes = web.RouteTableDef()
READERS = ("auditor", "admin")


def _int_param(
    request: web.Request, name: str, default: int | None = None, minimum: int = 1
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise bad_request(f"{name} must be an integer >= {minimum}", "invalid_field")
    return int(raw)


def _required_int_param(request: web.Request, name: str) -> int:
    value = _int_param(request, name)
    if value is None:
        raise bad_request(f"{name} is required", "invalid_field")
    return value


def _body_int(body: dict[str, Any], name: str) -> int | None:
    return validate.integer(body, name, minimum=1, maximum=2**62, required=False)


async def _optional_body(request: web.Request) -> dict[str, Any]:
    return await validate.read_json(request) if request.can_read_body else {}


def _record_json(row: Any) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "ts": row["ts"].isoformat(),
        "type": row["type"],
        "actor": row["actor"],
        "subject": row["subject"],
        "data": row["data"],
        "prev": bytes(row["prev_hash"]).hex(),
        "hash": bytes(row["hash"]).hex(),
    }


@routes.get("/api/forensics/logs", name="forensics_logs")
async def logs(request: web.Request) -> web.Response:
    """Records filtered by type, actor, subject and time; page with `after` = last seq seen."""
    await require_user(request, *READERS)
    q = request.query
    since = validate.timestamp(dict(q), "since", required=False)
    until = validate.timestamp(dict(q), "until", required=False)
    limit = min(_int_param(request, "limit", 100) or 100, 1000)
    after = _int_param(request, "after", 0, minimum=0) or 0
    async with request.app[DB].acquire() as conn:
        rows = await store.search(
            conn,
            event_type=q.get("type"),
            actor=q.get("actor"),
            subject=q.get("subject"),
            since=since,
            until=until,
            after_seq=after,
            limit=limit,
        )
    records = [_record_json(r) for r in rows]
    return web.json_response(
        {"records": records, "next_after": records[-1]["seq"] if len(records) == limit else None}
    )


@routes.post("/api/forensics/verify", name="forensics_verify")
async def verify(request: web.Request) -> web.Response:
    """Verify the whole chain or `{first, last}`; reports the first bad sequence number."""
    await require_user(request, *READERS)
    body = await _optional_body(request)
    first = _body_int(body, "first") or 1
    result = await service.verify(request.app, first, _body_int(body, "last"))
    return web.json_response(result.as_json())


@routes.post("/api/forensics/snapshot", name="forensics_snapshot")
async def snapshot(request: web.Request) -> web.Response:
    """Sign a checkpoint of the log as it is now."""
    await require_user(request, *READERS)
    try:
        return web.json_response(await service.create_checkpoint(request.app), status=201)
    except service.RangeError as exc:
        raise ApiError(409, "empty_log", str(exc)) from None


@routes.get("/api/forensics/checkpoints/latest", name="forensics_latest_checkpoint")
async def latest(request: web.Request) -> web.Response:
    """The newest signed checkpoint."""
    await require_user(request, *READERS)
    async with request.app[DB].acquire() as conn:
        row = await store.latest_checkpoint(conn)
    if row is None:
        raise not_found("checkpoint")
    return web.json_response(
        {"tree_size": row["tree_size"], "root": bytes(row["root_hash"]).hex(), "note": row["note"]}
    )


@routes.get("/api/forensics/public-key", name="forensics_public_key")
async def public_key(request: web.Request) -> web.Response:
    """The verifier key auditors check checkpoints with (publish it out of band too)."""
    cfg = request.app[FCONFIG]
    return web.Response(text=str(verifier_key(cfg.key_name, request.app[SIGNER])) + "\n")


@routes.get("/api/forensics/proofs/inclusion", name="forensics_inclusion")
async def inclusion(request: web.Request) -> web.Response:
    """Inclusion proof of record `seq` in the tree of `size` records (default: all)."""
    await require_user(request, *READERS)
    seq = _required_int_param(request, "seq")
    try:
        return web.json_response(
            await service.inclusion(request.app, seq, _int_param(request, "size"))
        )
    except service.RangeError as exc:
        raise bad_request(str(exc), "invalid_range") from None


@routes.get("/api/forensics/proofs/consistency", name="forensics_consistency")
async def consistency(request: web.Request) -> web.Response:
    """Consistency proof from `size1` records to `size2` (default: all)."""
    await require_user(request, *READERS)
    size1 = _required_int_param(request, "size1")
    try:
        return web.json_response(
            await service.consistency(request.app, size1, _int_param(request, "size2"))
        )
    except service.RangeError as exc:
        raise bad_request(str(exc), "invalid_range") from None


@routes.post("/api/forensics/export", name="forensics_export")
async def export(request: web.Request) -> web.Response:
    """Export `{first, last}` (default: everything after the previous export) as a bundle."""
    await require_user(request, *READERS)
    body = await _optional_body(request)
    first = _body_int(body, "first")
    if first is None:
        async with request.app[DB].acquire() as conn:
            previous = await store.last_export(conn)
        first = previous["last_seq"] + 1 if previous else 1
    try:
        result = await service.export(request.app, first, _body_int(body, "last"))
    except service.RangeError as exc:
        raise bad_request(str(exc), "invalid_range") from None
    return web.json_response(result, status=201)


@routes.get("/api/forensics/export/{id}/verify", name="forensics_export_verify")
async def export_verify(request: web.Request) -> web.Response:
    """Run the offline verifier on a stored bundle."""
    await require_user(request, *READERS)
    report = await service.verify_export(request.app, validate.path_uuid(request))
    if report is None:
        raise not_found("export")
    return web.json_response(
        {
            "ok": report.ok,
            "first_bad_seq": report.first_bad_seq,
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail} for c in report.checks
            ],
            "report": report.render(),
        }
    )


@routes.get("/api/forensics/export/{id}/bundle", name="forensics_export_download")
async def export_download(request: web.Request) -> web.FileResponse:
    """Download a stored bundle (.tar.gz)."""
    await require_user(request, *READERS)
    async with request.app[DB].acquire() as conn:
        row = await store.export(conn, validate.path_uuid(request))
    if row is None:
        raise not_found("export")
    path = request.app[EXPORTS].open(row["location"])
    return web.FileResponse(
        path, headers={"Content-Disposition": f'attachment; filename="{path.name}"'}
    )


@routes.post("/api/forensics/erase", name="forensics_erase")
async def erase(request: web.Request) -> web.Response:
    """GDPR erasure of a subject's personal data (admins only)."""
    admin = await require_user(request, "admin")
    body = await validate.read_json(request)
    subject = validate.text(body, "subject", max_len=200)
    count = await service.erase_subject(request.app, subject, str(admin.user_id))
    return web.json_response({"subject": subject, "erased_blobs": count})
