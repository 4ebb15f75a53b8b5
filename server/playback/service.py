"""Granting, renewing and revoking playback, and the gate's allow/deny decision."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server import audit
from server.access import can_watch
from server.accounts.tokens import Principal
from server.errors import forbidden, not_found
from server.keys import CLOCK, CONFIG, DB, REDIS
from server.live.event import Event
from server.live.service import get_event
from server.metrics import GATE_DECISIONS
from server.playback import store, tokens
from server.revocations import LOADED_KEY, PLAYBACK_PREFIX, playback_ttl, rebuild

REVOKED_PREFIX = PLAYBACK_PREFIX

# Live HLS is served under /play/, packaged replays under /replay/, videos on demand under
# /vod/ (the token's "event" is then the video). The kind is signed into each token, so each
# opens only its own path.
PATH_OF_KIND = {"live": "play", "replay": "replay", "vod": "vod"}
KIND_OF_PATH = {path: kind for kind, path in PATH_OF_KIND.items()}

# Told after a viewer's access to an event is taken back (refund, chargeback): (app, viewer,
# event). Playback stops by its own revocation; the chat re-checks the viewer's sockets.
ViewerListener = Callable[[web.Application, uuid.UUID, uuid.UUID], Awaitable[None]]
VIEWER_REVOKED_LISTENERS = web.AppKey("viewer_revoked_listeners", list[ViewerListener])


# Checks other packages add for a session renewing its token from an address (ticketing's
# anti-sharing rule); each raises an ApiError to refuse.
RenewalCheck = Callable[[web.Application, Principal, uuid.UUID, str], Awaitable[None]]
RENEWAL_CHECKS = web.AppKey("playback_renewal_checks", list[RenewalCheck])


def playback_url(app: web.Application, token: str, event_id: uuid.UUID, kind: str = "live") -> str:
    """Path-based, so the playlist's relative segment URLs carry the token too."""
    return f"{app[CONFIG].public_url}/{PATH_OF_KIND[kind]}/{token}/{event_id}/index.m3u8"


def issue(
    app: web.Application,
    viewer: uuid.UUID,
    event_id: uuid.UUID,
    session_id: uuid.UUID,
    kind: str = "live",
    not_after: int | None = None,
) -> dict[str, Any]:
    """Sign a token of `kind` for an existing session (callers have checked access); it
    expires after the playback TTL, or at `not_after` (epoch seconds) when that is sooner."""
    cfg = app[CONFIG]
    exp = int(app[CLOCK].time()) + cfg.playback_ttl
    if not_after is not None:
        exp = max(min(exp, not_after), int(app[CLOCK].time()) + 1)
    token = tokens.sign(
        cfg.playback_secret.encode(), tokens.PlaybackClaims(viewer, event_id, session_id, exp, kind)
    )
    return {
        "token": token,
        "url": playback_url(app, token, event_id, kind),
        "session_id": str(session_id),
        "event_id": str(event_id),
        "expires_at": exp,
        "expires_in": exp - int(app[CLOCK].time()),
    }


async def open_session(
    app: web.Application,
    viewer: uuid.UUID,
    event_id: uuid.UUID,
    kind: str = "live",
    not_after: int | None = None,
    session_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Start a new viewing session (with a new id, or `session_id` chosen by the caller) and
    sign its first token (callers have checked access)."""
    session_id = session_id or uuid.uuid4()
    async with app[DB].acquire() as conn:
        await store.insert(conn, session_id, viewer, event_id, kind)
    return issue(app, viewer, event_id, session_id, kind, not_after)


def opens_sessions_directly(principal: Principal, event: Event) -> bool:
    """Free events, the artist and staff start sessions here; everyone else via their ticket."""
    return event.is_free or event.is_run_by(principal)


async def grant(
    app: web.Application,
    principal: Principal,
    event_id: uuid.UUID,
    session_id: uuid.UUID | None,
    ip: str | None = None,
) -> dict[str, Any]:
    """A new session, or a renewed token for `session_id`, while access lasts."""
    event = await get_event(app, event_id)
    if not await can_watch(app, principal, event):
        raise forbidden("you have no access to this event", "no_access")
    if session_id is None:
        if not opens_sessions_directly(principal, event):
            # Ticket holders get sessions from ticket validation, which keeps one per ticket.
            raise forbidden("present your ticket to start watching", "ticket_required")
        return await open_session(app, principal.user_id, event_id)
    async with app[DB].acquire() as conn:
        session = await store.get(conn, session_id)
    if (
        session is None
        or session["user_id"] != principal.user_id
        or session["event_id"] != event_id
    ):
        raise not_found("playback session")
    if session["revoked_at"] is not None:
        raise forbidden("this playback session was ended", "session_revoked")
    if session["kind"] != "live":
        # A replay grant is checked by the replay route; it never becomes a live session.
        raise forbidden(
            "a replay session cannot be renewed as live playback; ask for the replay again",
            "replay_session",
        )
    if ip is not None:
        for check in app.get(RENEWAL_CHECKS, []):
            await check(app, principal, session_id, ip)
    return issue(app, principal.user_id, event_id, session_id)


async def revoke(
    app: web.Application, session_ids: list[uuid.UUID], reason: str, actor: object = None
) -> list[uuid.UUID]:
    """Stop sessions: the gate refuses their tokens once nginx's short allow-cache lapses."""
    if not session_ids:
        return []
    async with app[DB].acquire() as conn:
        revoked = await store.revoke(conn, session_ids, app[CLOCK].now())
    if revoked:
        # A token lives at most playback_ttl, so the mark can go once every such token has
        # expired. PostgreSQL (revoked_at) is the authority: this copy is rebuilt from it.
        ttl = playback_ttl(app)
        async with app[REDIS].pipeline(transaction=False) as pipe:
            for sid in revoked:
                pipe.set(REVOKED_PREFIX + str(sid), reason, ex=ttl)
            await pipe.execute()
        for sid in revoked:
            await audit.log(app, "PLAYBACK_REVOKED", actor=actor, subject=sid, reason=reason)
    return revoked


async def revoke_viewer(
    app: web.Application, viewer: uuid.UUID, event_id: uuid.UUID, reason: str, actor: object = None
) -> list[uuid.UUID]:
    """Stop every session of one viewer for one event."""
    async with app[DB].acquire() as conn:
        active = await store.active_for(conn, viewer, event_id)
    revoked = await revoke(app, active, reason, actor)
    for listener in app.get(VIEWER_REVOKED_LISTENERS, []):
        await listener(app, viewer, event_id)
    return revoked


async def session_owner(app: web.Application, session_id: uuid.UUID) -> uuid.UUID | None:
    """The viewer a session belongs to."""
    async with app[DB].acquire() as conn:
        row = await store.get(conn, session_id)
    return None if row is None else row["user_id"]


# The raw request path must be canonical: nginx picks the file from the decoded,
# normalised path, so anything it could rewrite (%2F, dot segments) is refused here.
_PLAY_PATH = re.compile(
    r"/(play|replay|vod)/([A-Za-z0-9_-]+)/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/[A-Za-z0-9_-]+\.(?:m3u8|ts)"
)


def parse_play_path(uri: str) -> tuple[str, str, str] | None:
    """(kind, token, event id) from `/<play|replay|vod>/<token>/<event_id>/<file>`, or None."""
    match = _PLAY_PATH.fullmatch(uri.split("?", 1)[0])
    return None if match is None else (match.group(1), match.group(2), match.group(3))


async def gate(app: web.Application, uri: str) -> bool:
    """The auth_request decision: signature, expiry, path match, Redis revocation; no SQL
    (unless Redis lost its copy of the revocations, which is rebuilt once)."""
    parsed = parse_play_path(uri)
    if parsed is None:
        GATE_DECISIONS.labels("malformed").inc()
        return False
    path, token, event = parsed
    try:
        claims = tokens.verify(app[CONFIG].playback_secret.encode(), token, app[CLOCK].time())
    except tokens.TokenRejected as exc:
        GATE_DECISIONS.labels(str(exc)).inc()
        return False
    if str(claims.event) != event:
        GATE_DECISIONS.labels("wrong_event").inc()
        return False
    if claims.kind != KIND_OF_PATH[path]:
        GATE_DECISIONS.labels("wrong_kind").inc()
        return False
    keys = (REVOKED_PREFIX + str(claims.session), LOADED_KEY)
    revoked, loaded = await app[REDIS].mget(*keys)
    if loaded is None:
        await rebuild(app)
        revoked, loaded = await app[REDIS].mget(*keys)
    if revoked is not None:
        GATE_DECISIONS.labels("revoked").inc()
        return False
    GATE_DECISIONS.labels("allowed").inc()
    return True
