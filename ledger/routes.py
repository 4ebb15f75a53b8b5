"""HTTP routes of the ledger: balances, statements, payouts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from ledger import payouts, sepa, statements
from ledger.balances import artist_balances
from ledger.errors import HTTP_STATUS, LedgerError
from ledger.models import (
    IDEMPOTENCY_HEADER,
    Balances,
    BatchOut,
    PayoutAccount,
    PayoutList,
    PayoutOut,
    SepaAccountIn,
    Settled,
    SettleIn,
    Statement,
    StatementQuery,
    WithdrawIn,
)
from server import api, validate
from server.accounts.auth import require_user
from server.errors import ApiError, bad_request, forbidden
from server.keys import DB
from server.wire import timestamp, timestamp_or_none

routes = web.RouteTableDef()


def ledger_error(exc: LedgerError) -> ApiError:
    """The HTTP answer to a refusal of the ledger's rules."""
    return ApiError(HTTP_STATUS.get(exc.code, 409), exc.code, exc.message)


@routes.get("/api/ledger/balance", name="ledger_balance")
@api.spec({200: Balances}, tag="ledger")
async def balance(request: web.Request) -> web.Response:
    """The caller's pending, available, in-transit and owed amounts per currency."""
    principal = await require_user(request, "artist")
    async with request.app[DB].acquire() as conn:
        found = await artist_balances(conn, principal.user_id)
    return api.reply(
        {"artist_id": str(principal.user_id), "balances": [asdict(b) for b in found]}, Balances
    )


@routes.get("/api/royalties/statement", name="royalties_statement")
@api.spec({200: (Statement, api.Media("text/csv"))}, query=StatementQuery, tag="ledger")
async def statement(request: web.Request) -> web.Response:
    """A month's royalty statement: per source gross, fees and artist share; the balances."""
    principal = await require_user(request, "artist")
    q = api.query(request, StatementQuery)
    artist_id = q.artist_id or principal.user_id
    if artist_id != principal.user_id and not principal.is_admin:
        raise forbidden("an artist sees only their own statements")
    try:
        async with request.app[DB].acquire() as conn:
            st = await statements.statement(conn, artist_id, q.month)
    except LedgerError as exc:
        raise ledger_error(exc) from None
    if q.format == "csv":
        return web.Response(
            text=statements.to_csv(st),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="statement-{artist_id}-{q.month}.csv"'
            },
        )
    return api.reply(Statement.model_validate(asdict(st)))


def _payout(p: payouts.Payout) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "method": p.method,
        "currency": p.currency,
        "amount": p.amount,
        "status": p.status,
        "batch_id": None if p.batch_id is None else str(p.batch_id),
        "created_at": timestamp(p.created_at),
        "settled_at": timestamp_or_none(p.settled_at),
    }


@routes.post("/api/distribution/withdraw", name="distribution_withdraw")
@api.spec(
    {200: PayoutOut, 201: PayoutOut}, body=WithdrawIn, headers=IDEMPOTENCY_HEADER, tag="ledger"
)
async def withdraw(request: web.Request) -> web.Response:
    """Reserve available money for a payout; one per method in flight, idempotent by key."""
    principal = await require_user(request, "artist")
    key = request.headers.get("Idempotency-Key", "")
    if not 0 < len(key) <= 200 or not key.isprintable():
        raise bad_request(
            "an Idempotency-Key header (1 to 200 characters) is required", "invalid_idempotency_key"
        )
    body = await api.body(request, WithdrawIn)
    try:
        done = await payouts.withdraw(
            request.app, principal.user_id, body.amount, body.currency, body.method, key
        )
    except LedgerError as exc:
        raise ledger_error(exc) from None
    return api.reply(_payout(done.payout), PayoutOut, status=201 if done.created else 200)


@routes.get("/api/ledger/payouts", name="ledger_payouts")
@api.spec({200: PayoutList}, tag="ledger")
async def payout_list(request: web.Request) -> web.Response:
    """The caller's payouts, newest first."""
    principal = await require_user(request, "artist")
    async with request.app[DB].acquire() as conn:
        found = await payouts.listing(conn, principal.user_id)
    return api.reply({"payouts": [_payout(p) for p in found]}, PayoutList)


@routes.post("/api/ledger/payout-accounts/sepa", name="ledger_sepa_account")
@api.spec({200: PayoutAccount}, body=SepaAccountIn, tag="ledger")
async def sepa_account(request: web.Request) -> web.Response:
    """Register the IBAN the caller's SEPA payouts go to."""
    principal = await require_user(request, "artist")
    body = await api.body(request, SepaAccountIn)
    try:
        done = await sepa.register(request.app, principal.user_id, body.iban, body.name)
    except LedgerError as exc:
        raise ledger_error(exc) from None
    return api.reply(done, PayoutAccount)


def _batch(batch: sepa.Batch) -> dict[str, Any]:
    return {
        "id": str(batch.id),
        "status": batch.status,
        "currency": batch.currency,
        "total": batch.total,
        "payouts": [str(p) for p in batch.payouts],
        "document": f"/api/ledger/payouts/batches/{batch.id}/pain.001",
    }


@routes.post("/api/ledger/payouts/batches", name="ledger_batch_export")
@api.spec({201: BatchOut, 204: None}, tag="ledger")
async def batch_export(request: web.Request) -> web.Response:
    """Admin: batch every pending SEPA payout into a pain.001 file (204: nothing pending)."""
    principal = await require_user(request, "admin")
    try:
        done = await sepa.export(request.app, principal.user_id)
    except LedgerError as exc:
        raise ledger_error(exc) from None
    if done is None:
        return web.Response(status=204)
    return api.reply(_batch(done[0]), BatchOut, status=201)


@routes.get("/api/ledger/payouts/batches/{id}/pain.001", name="ledger_batch_document")
@api.spec({200: api.Media("application/xml")}, tag="ledger")
async def batch_document(request: web.Request) -> web.Response:
    """Admin: a batch's SEPA credit-transfer file (pain.001.001.03) for the bank."""
    await require_user(request, "admin")
    batch_id = validate.path_uuid(request)
    try:
        xml = await sepa.document(request.app, batch_id)
    except LedgerError as exc:
        raise ledger_error(exc) from None
    return web.Response(
        text=xml,
        content_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="pain.001-{batch_id}.xml"'},
    )


@routes.post("/api/ledger/payouts/batches/{id}/settle", name="ledger_batch_settle")
@api.spec({200: Settled}, body=SettleIn, tag="ledger")
async def batch_settle(request: web.Request) -> web.Response:
    """Admin: the bank paid (posts every payout) or rejected (voids: money back) the batch."""
    principal = await require_user(request, "admin")
    batch_id = validate.path_uuid(request)
    body = await api.body(request, SettleIn)
    try:
        done = await sepa.settle_batch(
            request.app, batch_id, body.outcome == "paid", principal.user_id
        )
    except LedgerError as exc:
        raise ledger_error(exc) from None
    return api.reply({"payouts": [_payout(p) for p in done]}, Settled)
