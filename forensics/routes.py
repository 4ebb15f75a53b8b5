"""HTTP routes under /api/forensics, for admins and auditors."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forensics import service, store
from forensics.checkpoint import verifier_key
from forensics.keys import EXPORTS, FCONFIG, SIGNER
from forensics.models import (
    Checkpoint,
    ConsistencyProof,
    ConsistencyQuery,
    EraseIn,
    Erasure,
    Export,
    ExportVerification,
    InclusionProof,
    InclusionQuery,
    LatestCheckpoint,
    LogsQuery,
    RangeIn,
    Records,
    Verification,
)
from server import api, validate
from server.accounts.auth import require_user
from server.errors import ApiError, bad_request, not_found
from server.keys import DB
from server.wire import timestamp

routes = web.RouteTableDef()
READERS = ("auditor", "admin")


def _record_json(row: Any) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "ts": timestamp(row["ts"]),
        "type": row["type"],
        "actor": row["actor"],
        "subject": row["subject"],
        "data": row["data"],
        "prev": bytes(row["prev_hash"]).hex(),
        "hash": bytes(row["hash"]).hex(),
    }


@routes.get("/api/forensics/logs", name="forensics_logs")
@api.spec({200: Records}, query=LogsQuery, tag="forensics")
async def logs(request: web.Request) -> web.Response:
    """Records filtered by type, actor, subject and time; page with `after` = last seq seen."""
    await require_user(request, *READERS)
    q = api.query(request, LogsQuery)
    async with request.app[DB].acquire() as conn:
        rows = await store.search(
            conn,
            event_type=q.type,
            actor=q.actor,
            subject=q.subject,
            since=q.since,
            until=q.until,
            after_seq=q.after,
            limit=q.limit,
        )
    records = [_record_json(r) for r in rows]
    return api.reply(
        {"records": records, "next_after": records[-1]["seq"] if len(records) == q.limit else None},
        Records,
    )


@routes.post("/api/forensics/verify", name="forensics_verify")
@api.spec({200: Verification}, body=RangeIn, body_required=False, tag="forensics")
async def verify(request: web.Request) -> web.Response:
    """Verify the whole chain or `{first, last}`; reports the first bad sequence number."""
    await require_user(request, *READERS)
    body = await api.body(request, RangeIn)
    result = await service.verify(request.app, body.first or 1, body.last)
    return api.reply(result.as_json(), Verification)


@routes.post("/api/forensics/snapshot", name="forensics_snapshot")
@api.spec({201: Checkpoint}, tag="forensics")
async def snapshot(request: web.Request) -> web.Response:
    """Sign a checkpoint of the log as it is now."""
    await require_user(request, *READERS)
    try:
        checkpoint = await service.create_checkpoint(request.app)
    except service.RangeError as exc:
        raise ApiError(409, "empty_log", str(exc)) from None
    return api.reply(checkpoint, Checkpoint, status=201)


@routes.get("/api/forensics/checkpoints/latest", name="forensics_latest_checkpoint")
@api.spec({200: LatestCheckpoint}, tag="forensics")
async def latest(request: web.Request) -> web.Response:
    """The newest signed checkpoint."""
    await require_user(request, *READERS)
    async with request.app[DB].acquire() as conn:
        row = await store.latest_checkpoint(conn)
    if row is None:
        raise not_found("checkpoint")
    return api.reply(
        LatestCheckpoint(
            tree_size=row["tree_size"], root=bytes(row["root_hash"]).hex(), note=row["note"]
        )
    )


@routes.get("/api/forensics/public-key", name="forensics_public_key")
@api.spec({200: api.Media("text/plain")}, public=True, tag="forensics")
async def public_key(request: web.Request) -> web.Response:
    """The verifier key auditors check checkpoints with (publish it out of band too)."""
    cfg = request.app[FCONFIG]
    return web.Response(text=str(verifier_key(cfg.key_name, request.app[SIGNER])) + "\n")


@routes.get("/api/forensics/proofs/inclusion", name="forensics_inclusion")
@api.spec({200: InclusionProof}, query=InclusionQuery, tag="forensics")
async def inclusion(request: web.Request) -> web.Response:
    """Inclusion proof of record `seq` in the tree of `size` records (default: all)."""
    await require_user(request, *READERS)
    q = api.query(request, InclusionQuery)
    try:
        proof = await service.inclusion(request.app, q.seq, q.size)
    except service.RangeError as exc:
        raise bad_request(str(exc), "invalid_range") from None
    except service.Damaged as exc:
        raise ApiError(500, "log_damaged", str(exc)) from None
    return api.reply(proof, InclusionProof)


@routes.get("/api/forensics/proofs/consistency", name="forensics_consistency")
@api.spec({200: ConsistencyProof}, query=ConsistencyQuery, tag="forensics")
async def consistency(request: web.Request) -> web.Response:
    """Consistency proof from `size1` records to `size2` (default: all)."""
    await require_user(request, *READERS)
    q = api.query(request, ConsistencyQuery)
    try:
        proof = await service.consistency(request.app, q.size1, q.size2)
    except service.RangeError as exc:
        raise bad_request(str(exc), "invalid_range") from None
    return api.reply(proof, ConsistencyProof)


@routes.post("/api/forensics/export", name="forensics_export")
@api.spec({201: Export}, body=RangeIn, body_required=False, tag="forensics")
async def export(request: web.Request) -> web.Response:
    """Export `{first, last}` (default: everything after the previous export) as a bundle."""
    await require_user(request, *READERS)
    body = await api.body(request, RangeIn)
    first = body.first
    if first is None:
        async with request.app[DB].acquire() as conn:
            previous = await store.last_export(conn)
        first = previous["last_seq"] + 1 if previous else 1
    try:
        result = await service.export(request.app, first, body.last)
    except service.RangeError as exc:
        raise bad_request(str(exc), "invalid_range") from None
    return api.reply(result, Export, status=201)


@routes.get("/api/forensics/export/{id}/verify", name="forensics_export_verify")
@api.spec({200: ExportVerification}, tag="forensics")
async def export_verify(request: web.Request) -> web.Response:
    """Run the offline verifier on a stored bundle."""
    await require_user(request, *READERS)
    report = await service.verify_export(request.app, validate.path_uuid(request))
    if report is None:
        raise not_found("export")
    return api.reply(
        {
            "ok": report.ok,
            "first_bad_seq": report.first_bad_seq,
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail} for c in report.checks
            ],
            "report": report.render(),
        },
        ExportVerification,
    )


@routes.get("/api/forensics/export/{id}/bundle", name="forensics_export_download")
@api.spec(
    {200: api.Media("application/gzip", {"type": "string", "format": "binary"})}, tag="forensics"
)
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
@api.spec({200: Erasure}, body=EraseIn, tag="forensics")
async def erase(request: web.Request) -> web.Response:
    """GDPR erasure of a subject's personal data (admins only)."""
    admin = await require_user(request, "admin")
    subject = (await api.body(request, EraseIn)).subject
    count = await service.erase_subject(request.app, subject, str(admin.user_id))
    return api.reply(Erasure(subject=subject, erased_blobs=count))
