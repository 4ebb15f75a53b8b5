"""Ticket validation (the single admission), re-entry, and the watch rule.

Rules:
- Admission is single use: the first valid code of a paid ticket, shown by its owner, admits
  it (an atomic conditional UPDATE; of concurrent validations exactly one wins). Every later
  validation of that ticket is refused with `already_redeemed`, whatever the code.
- Re-entry is a separate, explicit step: the owner of an admitted ticket calls
  POST /api/tickets/{id}/reenter from another device; the ticket's viewing session moves
  there and the previous one is revoked (last login wins). A ticket has one active session.
- Addresses never end sessions: a ticket has one session whoever shares its address, and one
  fan's admission never ends another account's stream (households, offices and mobile
  carriers put many fans behind one address). An account has one ticket per event, so its
  ticket's single session is also its single session per address. IPs reach Redis only as
  keyed digests (rate-limit bucket names).

Checks run in this order, each refusal naming a pretix-like reason: invalid (malformed or
forged: the signature is checked before anything in the code is trusted) and invalid_time
(outside the code's window), each spending only the caller's address bucket (rate_limited
when it is empty); then rate_limited (per IP, per IP per event, per ticket and caller; genuine
codes only, one atomic call), event_over (the event ended or was cancelled), invalid (unknown
ticket), unpaid / cancelled / revoked (ticket state), wrong_event, not_owner, already_redeemed;
then, when the session moves, suspicious_location (see ticketing.location).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
import uuid
from typing import Any

from aiohttp import web

from server import audit, geo
from server.accounts.auth import take_if_not_revoked
from server.accounts.tokens import Principal
from server.errors import ApiError, not_found
from server.keys import CLOCK, DB
from server.live.event import Event
from server.live.service import get_event
from server.playback.service import issue, open_session, revoke
from server.ratelimit import RateLimit
from server.wire import timestamp
from ticketing import location, qr, store
from ticketing.keys import RUNTIME, TICKETING_CONFIG
from ticketing.metrics import VALIDATION_LATENCY, VALIDATIONS

REASON_STATUS = {
    "rate_limited": 429,
    "invalid": 400,
    "invalid_time": 403,
    "unpaid": 403,
    "cancelled": 403,
    "revoked": 403,
    "wrong_event": 403,
    "not_owner": 403,
    "already_redeemed": 409,
    "not_admitted": 409,
    "event_over": 409,
    "suspicious_location": 403,
}


def rejected(reason: str, message: str, **extra: Any) -> ApiError:
    """A refusal carrying its reason as the error code (and as `reason`)."""
    VALIDATIONS.labels(reason).inc()
    return ApiError(REASON_STATUS[reason], reason, message, reason=reason, **extra)


def ip_digest(app: web.Application, ip: str) -> str:
    """A keyed digest of an address, so Redis never holds raw IPs."""
    key = app[TICKETING_CONFIG].qr_key
    return hmac.new(key, b"ip:" + ip.encode(), hashlib.sha256).hexdigest()[:32]


async def _rate_limit(
    app: web.Application, checks: list[tuple[RateLimit, str]], unchecked: Principal | None = None
) -> None:
    """Spend one from each (bucket, key), all or nothing; 429 when any is empty. With
    `unchecked`, that caller's token is checked for revocation in the same call (401 first)."""
    now = app[CLOCK].time()
    if unchecked is None:
        allowed, wait_ms = await app[RUNTIME].limits.take(checks, now)
    else:
        allowed, wait_ms = await take_if_not_revoked(app, unchecked, checks, now)
    if not allowed:
        raise rejected(
            "rate_limited",
            "too many validation attempts; try again shortly",
            retry_after=max(1, math.ceil(wait_ms / 1000)),
        )


def ticket_bucket(ticket_id: uuid.UUID, caller: uuid.UUID) -> str:
    """A ticket's bucket is per caller: whoever else knows the ticket id spends only their own."""
    return f"{ticket_id}:{caller}"


def _state_refusal(ticket: Any) -> ApiError | None:
    status = ticket["status"]
    if status == "paid":
        return None
    if status == "reserved":
        return rejected("unpaid", "the ticket's payment has not completed")
    if status == "revoked":
        return rejected("revoked", "the ticket was revoked")
    if status == "released":
        return rejected("cancelled", "the purchase was not completed; the ticket is void")
    return rejected("cancelled", "the ticket was refunded")


def _explain(
    ticket: Any, claims: qr.CodeClaims, principal: Principal, stream_id: uuid.UUID | None
) -> ApiError:
    """Why the admission UPDATE matched nothing, in the documented order of checks."""
    if ticket is None:
        return rejected("invalid", "unknown ticket")
    refusal = _state_refusal(ticket)
    if refusal is not None:
        return refusal
    if ticket["event_id"] != claims.event_id or (
        stream_id is not None and stream_id != claims.event_id
    ):
        return rejected("wrong_event", "this ticket is for another event")
    if ticket["user_id"] != principal.user_id:
        return rejected("not_owner", "this ticket belongs to another account")
    return rejected(
        "already_redeemed",
        "this ticket was already admitted; re-enter with POST "
        f"/api/tickets/{ticket['id']}/reenter from the owner's account",
    )


async def validate(
    app: web.Application, principal: Principal, code: str, ip: str, stream_id: uuid.UUID | None
) -> dict[str, Any]:
    """Admit a ticket by its code: a playback grant and chat access, or a reasoned refusal.

    The principal's token is checked for revocation here, with the first rate limit (one
    Redis round trip): a revoked token is refused before anything else and spends nothing."""
    started = time.perf_counter()
    try:
        return await _validate(app, principal, code, ip, stream_id)
    finally:
        VALIDATION_LATENCY.observe(time.perf_counter() - started)


async def _validate(
    app: web.Application, principal: Principal, code: str, ip: str, stream_id: uuid.UUID | None
) -> dict[str, Any]:
    # Every attempt spends from its address's bucket. Nothing in a code whose signature or
    # window fails is trusted, so such a code spends only that: ids taken from a forged or
    # stale code must not spend the buckets of a ticket (or an event) the caller does not
    # hold. A genuine code spends its address, address-per-event and ticket-per-caller
    # buckets in one atomic call.
    ip_key = ip_digest(app, ip)
    try:
        claims = qr.verify_signature(app[TICKETING_CONFIG].qr_key, code)
        qr.check_window(claims, app[CLOCK].time())
    except qr.CodeRejected as exc:
        await _rate_limit(app, [(app[RUNTIME].validate_ip_limit, ip_key)], principal)
        raise rejected(exc.reason, exc.message) from None
    rt = app[RUNTIME]
    # A refusal by the buckets comes first, and nothing is written before they have answered.
    await _rate_limit(
        app,
        [
            (rt.validate_ip_limit, ip_key),
            (rt.validate_ip_limit, f"{ip_key}:{claims.event_id}"),
            (rt.validate_ticket_limit, ticket_bucket(claims.ticket_id, principal.user_id)),
        ],
        principal,
    )
    now = app[CLOCK].now()
    session_id = uuid.uuid4()
    won = False
    if stream_id is None or stream_id == claims.event_id:
        # One statement on the admitting path, shared with the admissions arriving alongside:
        # the event's open check (server.live's SQL function), the single-use UPDATE and the
        # session's opening (server.playback's); the reasons for a refusal are read only when
        # it matched nothing.
        won = await rt.admissions.admit(
            store.Admit(claims.ticket_id, principal.user_id, claims.event_id, now, session_id)
        )
    if not won:
        event = await get_event(app, claims.event_id)
        if not event.is_open:
            raise rejected("event_over", "the event is over; see its replay instead")
        async with app[DB].acquire() as conn:
            ticket = await store.get(conn, claims.ticket_id)
        raise _explain(ticket, claims, principal, stream_id)
    # The admission is committed: its forensic record (a group commit) is written while the
    # ticket's place is recorded (only when geolocation is configured), rather than after it.
    record = audit.log(
        app,
        "TICKET_VALIDATED",
        actor=principal.user_id,
        subject=claims.ticket_id,
        event=str(claims.event_id),
        session=session_id,
        reentry=False,
    )
    if geo.locate(app, ip) is None:
        await record
    else:
        await asyncio.gather(
            _record_place(app, claims.ticket_id, principal.user_id, ip, session_id), record
        )
    grant = issue(app, principal.user_id, claims.event_id, session_id)
    VALIDATIONS.labels("admitted").inc()
    return _reply(claims.ticket_id, claims.event_id, timestamp(now), grant, reentry=False)


async def _record_place(
    app: web.Application, ticket_id: uuid.UUID, user_id: uuid.UUID, ip: str, session_id: uuid.UUID
) -> None:
    """After an admission: remember where the ticket is watched."""
    # An admitted ticket had no session before, so it has no earlier place to jump from and
    # this only records the place; were it ever refused, the new session ends.
    try:
        await location.check_move(app, ticket_id, user_id, ip)
    except ApiError:
        await revoke(app, [session_id], "suspicious_location", user_id)
        raise


def _reply(
    ticket_id: uuid.UUID,
    event_id: uuid.UUID,
    admitted_at: str | None,
    grant: dict[str, Any],
    reentry: bool,
) -> dict[str, Any]:
    return {
        "status": "ok",
        "reentry": reentry,
        "ticket_id": str(ticket_id),
        "event_id": str(event_id),
        "admitted_at": admitted_at,
        "playback": grant,
        "chat": {"allowed": True, "event_id": str(event_id)},
    }


async def _move_session(
    app: web.Application,
    ticket_id: uuid.UUID,
    user_id: uuid.UUID,
    event_id: uuid.UUID,
    ip: str,
    session_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Open a session for the ticket and revoke its previous one."""
    # An impossible jump is refused here, before anything moves: the current session stays.
    await location.check_move(app, ticket_id, user_id, ip)
    # No connection is held across open_session: it takes its own from the pool.
    grant = await open_session(app, user_id, event_id, session_id=session_id)
    session_id = uuid.UUID(grant["session_id"])
    async with app[DB].acquire() as conn:
        swapped, previous = await store.swap_session(conn, ticket_id, session_id)
    if not swapped:  # refunded or revoked a moment ago
        await revoke(app, [session_id], "ticket_closed", user_id)
        raise rejected("cancelled", "the ticket is no longer valid")
    if previous is not None and previous != session_id:
        await revoke(app, [previous], "ticket_session_moved", user_id)
    return grant


async def reenter(
    app: web.Application, principal: Principal, ticket_id: uuid.UUID, ip: str
) -> dict[str, Any]:
    """The owner moves an admitted ticket's session to this device (last login wins)."""
    ip_key = ip_digest(app, ip)
    rt = app[RUNTIME]
    await _rate_limit(app, [(rt.validate_ip_limit, f"{ip_key}:reenter")])
    async with app[DB].acquire() as conn:
        ticket = await store.get(conn, ticket_id)
    # Ownership first: a stranger who saw the ticket id must not spend the owner's bucket.
    if ticket is None or ticket["user_id"] != principal.user_id:
        raise not_found("ticket")
    await _rate_limit(
        app, [(rt.validate_ticket_limit, ticket_bucket(ticket_id, principal.user_id))]
    )
    refusal = _state_refusal(ticket)
    if refusal is not None:
        raise refusal
    if ticket["admitted_at"] is None:
        raise rejected("not_admitted", "validate the ticket's code first")
    event = await get_event(app, ticket["event_id"])
    if not event.is_open:
        raise rejected("event_over", "the event is over; see its replay instead")
    grant = await _move_session(app, ticket_id, principal.user_id, ticket["event_id"], ip)
    VALIDATIONS.labels("reentered").inc()
    await audit.log(
        app,
        "TICKET_REENTERED",
        actor=principal.user_id,
        subject=ticket_id,
        event=str(ticket["event_id"]),
        session=grant["session_id"],
    )
    return _reply(
        ticket_id, ticket["event_id"], timestamp(ticket["admitted_at"]), grant, reentry=True
    )


async def holds_admitted_ticket(app: web.Application, principal: Principal, event: Event) -> bool:
    """The watch rule ticketing adds: a paid, admitted ticket for an event not yet over."""
    if not event.is_open:
        return False
    async with app[DB].acquire() as conn:
        return await store.admitted_ticket(conn, principal.user_id, event.id)
