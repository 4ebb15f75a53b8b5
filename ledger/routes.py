"""HTTP routes of the ledger: balances, statements, payouts."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from ledger import statements
from ledger.balances import artist_balances
from ledger.errors import HTTP_STATUS, LedgerError
from ledger.models import Balances, Statement, StatementQuery
from server import api
from server.accounts.auth import require_user
from server.errors import ApiError, forbidden
from server.keys import DB

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
    return api.reply({"artist_id": str(principal.user_id),
                      "balances": [asdict(b) for b in found]}, Balances)


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
            text=statements.to_csv(st), content_type="text/csv",
            headers={"Content-Disposition":
                     f'attachment; filename="statement-{artist_id}-{q.month}.csv"'})
    return api.reply(Statement.model_validate(asdict(st)))
