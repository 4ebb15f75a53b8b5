"""HTTP routes of the on-chain mirror: the artist's wallet, and the chain beside the ledger."""

from __future__ import annotations

from aiohttp import web

from ledger import mirror
from ledger.errors import LedgerError
from ledger.models import Blockchain, WalletIn, WalletOut
from ledger.routes import ledger_error
from server import api, validate
from server.accounts.auth import require_user
from server.errors import forbidden

routes = web.RouteTableDef()


@routes.put("/api/ledger/wallet", name="ledger_wallet")
@api.spec({200: WalletOut}, body=WalletIn, tag="ledger")
async def wallet(request: web.Request) -> web.Response:
    """Register the address the caller's on-chain credits go to."""
    principal = await require_user(request, "artist")
    body = await api.body(request, WalletIn)
    try:
        address = await mirror.register_wallet(request.app, principal.user_id, body.address)
    except LedgerError as exc:
        raise ledger_error(exc) from None
    return api.reply({"address": address}, WalletOut)


@routes.get("/api/royalties/{artistId}/blockchain", name="royalties_blockchain")
@api.spec({200: Blockchain}, tag="ledger")
async def blockchain(request: web.Request) -> web.Response:
    """The artist's on-chain balance and credits beside the ledger's (409 chain_disabled when
    the mirror is not configured)."""
    principal = await require_user(request, "artist")
    artist_id = validate.path_uuid(request, "artistId")
    if artist_id != principal.user_id and not principal.is_admin:
        raise forbidden("an artist sees only their own figures")
    try:
        found = await mirror.report(request.app, artist_id)
    except LedgerError as exc:
        raise ledger_error(exc) from None
    return api.reply(found, Blockchain)
