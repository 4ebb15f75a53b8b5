"""HTTP routes of distribution: uploads, an artist's releases, corrections, takedowns and
royalty lines."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from distribution import identifiers, releases, service, upload
from distribution.errors import DistributionError
from distribution.keys import DIST_CONFIG
from distribution.models import (
    Accepted,
    ReleaseFields,
    ReleaseList,
    ReleaseOut,
    RoyaltyList,
    RoyaltyQuery,
)
from distribution.royalties import store as royalty_store
from distribution.royalties.ingest import minor_units, platform_fee
from server import api, validate
from server.accounts.auth import require_user
from server.errors import ApiError
from server.keys import DB
from server.wire import timestamp

routes = web.RouteTableDef()
UPLOAD_FORM = api.Media(
    "multipart/form-data",
    {
        "type": "object",
        "required": ["metadata", "audio", "cover"],
        "properties": {
            "metadata": {"type": "string", "description": "ReleaseMetadata as JSON"},
            "audio": {"type": "string", "format": "binary"},
            "cover": {"type": "string", "format": "binary"},
        },
    },
)


def refused(exc: DistributionError) -> ApiError:
    """The HTTP answer to a refusal."""
    return ApiError(exc.status, exc.code, exc.message)


def _accepted(r: releases.Release) -> dict[str, object]:
    return {
        "id": str(r.id),
        "isrc": identifiers.format_isrc(r.isrc),
        "upc": r.upc,
        "state": r.state,
    }


def _release(r: releases.Release) -> dict[str, object]:
    return {
        "id": str(r.id),
        "title": r.title,
        "version": r.metadata.get("version"),
        "isrc": identifiers.format_isrc(r.isrc),
        "upc": r.upc,
        "iswc": r.iswc,
        "release_date": r.release_date.isoformat(),
        "state": r.state,
        "progress": r.progress,
        "reason": r.reason,
        "revision": r.revision,
        "created_at": timestamp(r.created_at),
    }


@routes.post("/api/distribution/upload", name="distribution_upload")
@api.spec({202: Accepted}, content=UPLOAD_FORM, tag="distribution")
async def upload_release(request: web.Request) -> web.Response:
    """Upload a single (multipart: metadata JSON, audio, cover); checked, coded, then built."""
    principal = await require_user(request, "artist")
    try:
        release = await upload.accept(request.app, principal.user_id, request)
    except DistributionError as exc:
        raise refused(exc) from None
    return api.reply(_accepted(release), Accepted, status=202)


@routes.get("/api/distribution/releases", name="distribution_releases")
@api.spec({200: ReleaseList}, tag="distribution")
async def release_list(request: web.Request) -> web.Response:
    """The caller's releases, newest first, with their pipeline state."""
    principal = await require_user(request, "artist")
    async with request.app[DB].acquire() as conn:
        found = await releases.listing(conn, principal.user_id)
    return api.reply({"releases": [_release(r) for r in found]}, ReleaseList)


@routes.patch("/api/distribution/releases/{id}", name="distribution_correct")
@api.spec({202: ReleaseOut}, body=ReleaseFields, tag="distribution")
async def correct(request: web.Request) -> web.Response:
    """Correct a release's metadata; the stores are sent an updated message."""
    principal = await require_user(request, "artist")
    release_id = validate.path_uuid(request)
    body = await api.body(request, ReleaseFields)
    try:
        done = await service.correct(
            request.app, release_id, principal.user_id, body, admin=principal.is_admin
        )
    except DistributionError as exc:
        raise refused(exc) from None
    return api.reply(_release(done), ReleaseOut, status=202)


@routes.post("/api/distribution/releases/{id}/takedown", name="distribution_takedown")
@api.spec({202: ReleaseOut}, tag="distribution")
async def take_down(request: web.Request) -> web.Response:
    """Withdraw a release from every store (their deals end today)."""
    principal = await require_user(request, "artist")
    release_id = validate.path_uuid(request)
    try:
        done = await service.take_down(
            request.app, release_id, principal.user_id, admin=principal.is_admin
        )
    except DistributionError as exc:
        raise refused(exc) from None
    return api.reply(_release(done), ReleaseOut, status=202)


@routes.get("/api/distribution/royalties", name="distribution_royalties")
@api.spec({200: RoyaltyList}, query=RoyaltyQuery, tag="distribution")
async def royalty_lines(request: web.Request) -> web.Response:
    """The caller's royalty lines of a month, per store, release and territory."""
    principal = await require_user(request, "artist")
    q = api.query(request, RoyaltyQuery)
    start = dt.date.fromisoformat(q.month + "-01")
    end = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    bps = request.app[DIST_CONFIG].platform_fee_bps
    async with request.app[DB].acquire() as conn:
        found = await royalty_store.artist_lines(conn, principal.user_id, start, end)
        titles = {r.id: r.title for r in await releases.listing(conn, principal.user_id)}
    lines = []
    for line in found:
        gross = minor_units(line.gross, line.currency)
        fee = platform_fee(gross, bps) if gross > 0 else 0
        lines.append(
            {
                "store": line.store,
                "release_id": str(line.release_id),
                "title": titles.get(line.release_id, ""),
                "isrc": identifiers.format_isrc(line.isrc),
                "territory": line.territory,
                "units": str(line.units),
                "currency": line.currency,
                "gross": str(line.gross),
                "gross_minor": gross,
                "platform_fee": fee,
                "artist_payout": gross - fee,
            }
        )
    return api.reply({"month": q.month, "lines": lines}, RoyaltyList)
