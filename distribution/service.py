"""Changes an artist makes to a release after upload: metadata corrections and takedowns."""

from __future__ import annotations

import uuid

from aiohttp import web

from distribution import identifiers, pipeline, releases
from distribution.errors import DistributionError
from distribution.models import ReleaseFields
from server.keys import DB


def _owned(release: releases.Release | None, artist_id: uuid.UUID, admin: bool) -> releases.Release:
    if release is None or (release.artist_id != artist_id and not admin):
        raise DistributionError("not_found", "release not found")
    if release.pending_kind == "takedown":
        raise DistributionError("taken_down", "the release has been withdrawn")
    return release


async def correct(
    app: web.Application,
    release_id: uuid.UUID,
    artist_id: uuid.UUID,
    fields: ReleaseFields,
    *,
    admin: bool = False,
) -> releases.Release:
    """Apply a metadata correction; the stores get an updated message."""
    changes = fields.model_dump(mode="json", exclude_unset=True, exclude={"iswc"})
    if not changes and fields.iswc is None:
        raise DistributionError("invalid_field", "name at least one field to change")
    if any(v is None for k, v in changes.items() if k != "version"):
        raise DistributionError("invalid_field", "only version can be cleared (null)")
    iswc = identifiers.check_iswc(fields.iswc) if fields.iswc is not None else None
    async with app[DB].acquire() as conn, conn.transaction():
        release = _owned(await releases.get(conn, release_id, lock=True), artist_id, admin)
        metadata = {**release.metadata, **changes}
        # Nothing reached a store yet: the corrected release is still a first delivery.
        kind: releases.Kind = "update" if await releases.delivered(conn, release_id) else "insert"
        revised = await releases.revise(conn, release_id, kind, metadata, iswc)
        await pipeline.enqueue(app, conn, revised)
    return revised


async def take_down(
    app: web.Application, release_id: uuid.UUID, artist_id: uuid.UUID, *, admin: bool = False
) -> releases.Release:
    """Withdraw the release from every store: their deals end today."""
    async with app[DB].acquire() as conn, conn.transaction():
        _owned(await releases.get(conn, release_id, lock=True), artist_id, admin)
        revised = await releases.revise(conn, release_id, "takedown")
        await pipeline.enqueue(app, conn, revised)
    return revised
