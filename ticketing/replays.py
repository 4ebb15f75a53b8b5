"""Replays: packaging a stream's recording when it ends, and 7-day access for ticket holders."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from media import replay as media_replay
from server import audit
from server.access import STAFF_ROLES
from server.accounts.tokens import Principal
from server.errors import ApiError, conflict, forbidden
from server.keys import CLOCK, CONFIG, DB
from server.live.service import get_event
from server.playback.service import allow_replay, issue, open_session, revoke
from ticketing import store
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.metrics import REPLAYS
from ticketing.views import iso

log = logging.getLogger(__name__)


async def on_status(app: web.Application, event_id: uuid.UUID, status: str) -> None:
    """STATUS_LISTENERS hook: package the replay when a stream ends."""
    if status == "ended":
        app[RUNTIME].spawn(package(app, event_id))


async def package(app: web.Application, event_id: uuid.UUID) -> str:
    """Remux the event's recordings into its replay dir; returns the replay status."""
    rt = app[RUNTIME]
    key = str(event_id)
    lock = rt.replay_locks.setdefault(key, asyncio.Lock())
    rt.replay_lock_users[key] = rt.replay_lock_users.get(key, 0) + 1
    try:
        async with lock:
            return await _package(app, event_id)
    finally:
        # The last one out drops the lock: the dicts hold only events being packaged.
        rt.replay_lock_users[key] -= 1
        if not rt.replay_lock_users[key]:
            del rt.replay_lock_users[key]
            del rt.replay_locks[key]


async def _package(app: web.Application, event_id: uuid.UUID) -> str:
    cfg = app[TICKETING_CONFIG]
    files = media_replay.find_recordings(cfg.record_dir, str(event_id))
    async with app[DB].acquire() as conn:
        await store.set_replay(conn, event_id, "packaging" if files else "missing",
                               app[CLOCK].now())
    if not files:
        REPLAYS.labels("missing").inc()
        return "missing"
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(None, media_replay.package, files,
                                            app[CONFIG].replay_dir, str(event_id))
    except Exception as exc:  # a broken recording must not take the app down
        log.exception("packaging the replay of %s failed", event_id)
        async with app[DB].acquire() as conn:
            await store.set_replay(conn, event_id, "failed", app[CLOCK].now(),
                                   error=str(exc)[:500])
        REPLAYS.labels("failed").inc()
        return "failed"
    async with app[DB].acquire() as conn:
        await store.set_replay(conn, event_id, "ready", app[CLOCK].now(), result.parts,
                               result.segments, result.duration)
    REPLAYS.labels("ready").inc()
    log.info("replay of %s ready: %d parts, %d segments, %.1f s", event_id, result.parts,
             result.segments, result.duration)
    return "ready"


async def grant(app: web.Application, principal: Principal, event_id: uuid.UUID) -> dict[str, Any]:
    """A replay playback grant for holders of a ticket with replay access, for 7 days."""
    event = await get_event(app, event_id)
    if event["status"] != "ended" or event["ended_at"] is None:
        raise conflict("the event has not ended; there is no replay yet", "replay_not_available")
    cfg, clock = app[TICKETING_CONFIG], app[CLOCK]
    now = clock.now()
    until = event["ended_at"] + timedelta(days=cfg.replay_days)
    staff = event["artist_id"] == principal.user_id or principal.role in STAFF_ROLES
    ticket = None
    if not staff:
        async with app[DB].acquire() as conn:
            ticket = await store.replay_ticket(conn, principal.user_id, event_id)
        if ticket is None:
            raise forbidden("a ticket for this event is needed to watch its replay", "no_ticket")
        if not ticket["replay_access"]:
            raise forbidden("this ticket does not include the replay", "no_replay_access")
        if now >= until:
            raise forbidden(f"the replay was available until {until.isoformat()}",
                            "replay_expired")
    async with app[DB].acquire() as conn:
        replay = await store.get_replay(conn, event_id)
    if replay is None or replay["status"] == "packaging":
        raise ApiError(404, "replay_not_ready", "the replay is being prepared; try again shortly")
    if replay["status"] != "ready":
        raise ApiError(404, "replay_unavailable", "there is no recording of this event")
    session_id = uuid.UUID((await open_session(app, principal.user_id, event_id))["session_id"])
    if ticket is not None:
        async with app[DB].acquire() as conn:
            swapped, previous = await store.swap_session(conn, ticket["id"], session_id,
                                                         replay=True)
        if not swapped:
            await revoke(app, [session_id], "ticket_closed", principal.user_id)
            raise forbidden("the ticket is no longer valid", "canceled")
        if previous is not None:
            await revoke(app, [previous], "replay_session_moved", principal.user_id)
    ttl = app[CONFIG].playback_ttl + 60
    if ticket is not None:
        ttl = min(ttl, int((until - now).total_seconds()))
    await allow_replay(app, session_id, ttl)
    await audit.log(app, "REPLAY_GRANTED", actor=principal.user_id, subject=event_id,
                    session=session_id, ticket=None if ticket is None else ticket["id"])
    playback = issue(app, principal.user_id, event_id, session_id, kind="replay")
    return {"event_id": str(event_id), "available_until": None if staff else iso(until),
            "replay": {"status": replay["status"], "duration": replay["duration_seconds"],
                       "segments": replay["segments"], "parts": replay["parts"]},
            "playback": playback}
