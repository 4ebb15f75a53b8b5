"""Anti-sharing: a ticket's session may not jump farther than anyone can travel.

When a ticket's session moves (validation, re-entry, renewal) to an address whose location
is more than MHC_GEO_MAX_MILES from where the ticket was last seen, sooner than a traveller
at MHC_GEO_MAX_MPH could get there, the move is refused with `suspicious_location`, the
existing session is kept, and a forensic record is written. Logging in again from the new
place re-verifies the owner there. Off without MHC_GEOIP_DB; private and loopback addresses
are never located (nor do they move the ticket's last known place).
"""

from __future__ import annotations

import uuid

from aiohttp import web

from server import audit, geo
from server.accounts import service as accounts
from server.accounts.tokens import Principal
from server.errors import ApiError
from server.keys import CLOCK, DB
from ticketing import store
from ticketing.metrics import VALIDATIONS


async def check_move(
    app: web.Application, ticket_id: uuid.UUID, user_id: uuid.UUID, ip: str
) -> None:
    """Refuse (403 suspicious_location) an impossible jump; otherwise remember the new place."""
    place = geo.locate(app, ip)
    if place is None:
        return
    now = app[CLOCK].now()
    async with app[DB].acquire() as conn:
        before = await store.location_of(conn, ticket_id)
    if before is not None:
        miles = geo.impossible_travel(
            app, geo.Place(before["latitude"], before["longitude"]), before["seen_at"], place, now
        )
        if miles is not None and not await accounts.verified_at(
            app, user_id, place, before["seen_at"]
        ):
            VALIDATIONS.labels("suspicious_location").inc()
            await audit.log(
                app,
                "TICKET_LOCATION_REFUSED",
                actor=user_id,
                subject=ticket_id,
                reason="suspicious_location",
                distance_miles=round(miles),
            )
            raise ApiError(
                403,
                "suspicious_location",
                f"this ticket was watched about {round(miles)} miles away moments "
                "ago; log in again from here to continue",
                reason="suspicious_location",
            )
    async with app[DB].acquire() as conn:
        await store.set_location(conn, ticket_id, place.latitude, place.longitude, now)


async def check_renewal(
    app: web.Application, principal: Principal, session_id: uuid.UUID, ip: str
) -> None:
    """The same rule when a ticket's live session renews its playback token."""
    if geo.locate(app, ip) is None:
        return  # nothing to compare (and no query on the common path when geolocation is off)
    async with app[DB].acquire() as conn:
        ticket_id = await store.ticket_of_session(conn, session_id)
    if ticket_id is not None:
        await check_move(app, ticket_id, principal.user_id, ip)
