"""`GET /api/distribution/status/{id}`: where a release stands at each DSP."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from distribution import delivery_store, releases
from distribution.targets import DSPS
from server import api, validate
from server.accounts.auth import require_user
from server.errors import not_found
from server.keys import DB

routes = web.RouteTableDef()


class DspDelivery(api.Reply):
    """The latest delivery of the release to one DSP."""

    dsp: str = Field(description="the DSP's code, e.g. spotify")
    name: str
    state: Literal["queued", "uploading", "delivered", "acknowledged", "rejected", "live", "failed"]
    reason: str | None = Field(description="the store's reason for a rejection, or ours")
    updated_at: datetime


class DeliveryStatusOut(api.Reply):
    """A release's delivery state per DSP (none before its packages are queued)."""

    release_id: uuid.UUID
    deliveries: list[DspDelivery]


@routes.get("/api/distribution/status/{id}", name="distribution_status")
@api.spec({200: DeliveryStatusOut}, tag="distribution")
async def status(request: web.Request) -> web.Response:
    """Per DSP: queued → uploading → delivered → acknowledged | rejected → live, or failed."""
    principal = await require_user(request)
    release_id = validate.path_uuid(request)
    async with request.app[DB].acquire() as conn:
        owner = await releases.owner(conn, release_id)
        # Someone else's release answers exactly as a missing one does.
        if owner is None or (owner != principal.user_id and not principal.is_admin):
            raise not_found("release")
        found = await delivery_store.statuses(conn, release_id)
    return api.reply(
        DeliveryStatusOut(
            release_id=release_id,
            deliveries=[
                DspDelivery(
                    dsp=s.dsp,
                    name=DSPS.get(s.dsp, s.dsp),
                    state=s.state,
                    reason=s.reason,
                    updated_at=s.updated_at,
                )
                for s in found
            ],
        )
    )
