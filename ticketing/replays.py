"""Replay access: 7 days for holders of a ticket with replay access (media packages the replay)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from media import replays as media_replays
from server import audit
from server.accounts.tokens import Principal
from server.errors import ApiError, conflict, forbidden
from server.keys import CLOCK, DB
from server.live.service import get_event
from server.playback.service import issue, open_session, revoke
from server.wire import timestamp
from ticketing import store
from ticketing.keys import TICKETING_CONFIG

log = logging.getLogger(__name__)


async def grant(app: web.Application, principal: Principal, event_id: uuid.UUID) -> dict[str, Any]:
    """A replay playback grant for holders of a ticket with replay access, for 7 days."""
    event = await get_event(app, event_id)
    if event.status != "ended" or event.ended_at is None:
        raise conflict("the event has not ended; there is no replay yet", "replay_not_available")
    cfg, clock = app[TICKETING_CONFIG], app[CLOCK]
    now = clock.now()
    until = event.ended_at + timedelta(days=cfg.replay_days)
    staff = event.is_run_by(principal)
    ticket = None
    if not staff:
        async with app[DB].acquire() as conn:
            ticket = await store.replay_ticket(conn, principal.user_id, event_id)
        if ticket is None:
            raise forbidden("a ticket for this event is needed to watch its replay", "no_ticket")
        if not ticket["replay_access"]:
            raise forbidden("this ticket does not include the replay", "no_replay_access")
        if now >= until:
            raise forbidden(f"the replay was available until {timestamp(until)}", "replay_expired")
    replay = media_replays.state(app, event_id)
    if replay is None or replay.status == media_replays.PACKAGING:
        raise ApiError(404, "replay_not_ready", "the replay is being prepared; try again shortly")
    if replay.status != media_replays.READY:
        raise ApiError(404, "replay_unavailable", "there is no recording of this event")
    # The session is a replay session: its tokens open /replay/ only, and never renew as live.
    not_after = None if ticket is None else int(until.timestamp())
    session_id = uuid.UUID(
        (await open_session(app, principal.user_id, event_id, "replay", not_after))["session_id"]
    )
    if ticket is not None:
        async with app[DB].acquire() as conn:
            swapped, previous = await store.swap_session(
                conn, ticket["id"], session_id, replay=True
            )
        if not swapped:
            await revoke(app, [session_id], "ticket_closed", principal.user_id)
            raise forbidden("the ticket is no longer valid", "cancelled")
        if previous is not None:
            await revoke(app, [previous], "replay_session_moved", principal.user_id)
    await audit.log(
        app,
        "REPLAY_GRANTED",
        actor=principal.user_id,
        subject=event_id,
        session=session_id,
        ticket=None if ticket is None else ticket["id"],
    )
    playback = issue(app, principal.user_id, event_id, session_id, "replay", not_after)
    return {
        "event_id": str(event_id),
        "available_until": None if staff else timestamp(until),
        "replay": {
            "status": replay.status,
            "duration": replay.duration,
            "segments": replay.segments,
            "parts": replay.parts,
        },
        "playback": playback,
    }
