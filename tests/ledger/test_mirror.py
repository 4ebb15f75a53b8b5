"""The on-chain mirror's sync: credits to available USD reach the contract exactly once, the
blockchain route agrees with the ledger, and an app without the mirror answers chain_disabled."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

import ledger
from ledger import mirror
from server.keys import DB
from tests.apps import app_with
from tests.conftest import Api
from tests.ledger.conftest import Deployed
from tests.ledger.helpers import fund, until
from tests.ticketing.conftest import make_user

SCALE = mirror.TOKEN_PER_MINOR


@pytest.fixture
async def mapi(dapi: Api, deployed: Deployed) -> AsyncIterator[Api]:
    """An app process on its own job queue whose mirror is the freshly deployed contract."""
    async with app_with(dapi.app, env={"MHC_JOBS_QUEUE": "ledger_chain"}) as api:
        api.app[mirror.MIRROR].client = deployed.mirror
        yield api
        api.app[mirror.MIRROR].client = None  # the chain fixture owns and closes it


def wallet() -> str:
    return str(Account.create().address)


async def credits(api: Api, artist: uuid.UUID) -> list[Any]:
    async with api.app[DB].acquire() as conn:
        return list(
            await conn.fetch(
                """SELECT transfer_id, amount, status, wallet, tx_hash FROM ledger_chain_credits
                   WHERE artist_id = $1 ORDER BY created_at""",
                artist,
            )
        )


async def credited(api: Api, artist: uuid.UUID, n: int) -> None:
    async def check() -> bool:
        rows = await credits(api, artist)
        return len(rows) == n and all(r["status"] == "credited" for r in rows)

    await until(check)


async def put_wallet(api: Api, owner: dict[str, Any], address: str) -> tuple[int, Any]:
    return await api.call(
        "PUT", "/api/ledger/wallet", token=owner["access"], json={"address": address}
    )


async def test_a_tip_is_credited_on_chain_and_the_route_agrees(
    mapi: Api, deployed: Deployed
) -> None:
    owner = await make_user(mapi, "artist")
    address = wallet()
    status, body = await put_wallet(mapi, owner, address.lower())
    assert (status, body) == (200, {"address": address})
    await fund(mapi.app, owner["id"], 1234, "USD")
    await fund(mapi.app, owner["id"], 500, "EUR")  # only USD is mirrored
    await fund(mapi.app, owner["id"], 66, "USD")
    await credited(mapi, owner["id"], 2)
    assert await deployed.mirror.total_credited(address) == 1300 * SCALE
    assert await deployed.mirror.balance_of(address) == 1300 * SCALE
    rows = await credits(mapi, owner["id"])
    status, found = await mapi.call(
        "GET", f"/api/royalties/{owner['id']}/blockchain", token=owner["access"]
    )
    assert status == 200, found
    assert found["chain_id"] == await deployed.mirror.chain_id()
    assert found["contract"] == deployed.mirror.address and found["wallet"] == address
    assert (found["on_chain_total_credited"], found["ledger_credited"]) == (1300 * SCALE,) * 2
    assert found["ledger_pending"] == 0 and found["in_agreement"] is True
    refs = {"0x" + r["transfer_id"].bytes.rjust(32, b"\0").hex(): r["tx_hash"] for r in rows}
    assert {c["ref"]: c["tx_hash"] for c in found["recent"]} == refs


async def test_a_resend_after_a_crash_credits_once(mapi: Api, deployed: Deployed) -> None:
    owner = await make_user(mapi, "artist")
    address = wallet()
    await fund(mapi.app, owner["id"], 700, "USD")  # no wallet yet: the credit waits
    [row] = await credits(mapi, owner["id"])
    assert row["status"] == "pending"
    # A worker sent the transaction and died before recording it.
    sent = await deployed.mirror.credit_royalty(address, row["amount"], row["transfer_id"])
    status, _ = await put_wallet(mapi, owner, address)  # queues the waiting credit again
    assert status == 200
    await credited(mapi, owner["id"], 1)
    for _ in range(2):  # and any later rerun of the job is a no-op
        await mirror.credit_job(mapi.app, {"transfer_id": str(row["transfer_id"])})
    [row] = await credits(mapi, owner["id"])
    assert (row["wallet"], row["tx_hash"]) == (address, sent.tx_hash)
    assert await deployed.mirror.total_credited(address) == 700 * SCALE

    async def events() -> list[Any]:
        async with mapi.app[DB].acquire() as conn:
            return list(
                await conn.fetch(
                    "SELECT data FROM forensic_log WHERE type = 'CHAIN_CREDITED' AND subject = $1",
                    str(row["transfer_id"]),
                )
            )

    async def logged() -> bool:
        return bool(await events())

    await until(logged)
    [event] = await events()
    data = event["data"] if isinstance(event["data"], dict) else json.loads(event["data"])
    assert data["already_credited"] is True and data["tx_hash"] == sent.tx_hash


async def test_without_the_mirror_the_route_answers_chain_disabled(dapi: Api) -> None:
    owner = await make_user(dapi, "artist")
    other = await make_user(dapi, "artist")
    await fund(dapi.app, owner["id"], 900, "USD")
    assert await credits(dapi, owner["id"]) == []
    status, body = await dapi.call(
        "GET", f"/api/royalties/{owner['id']}/blockchain", token=owner["access"]
    )
    assert (status, body["error"]["code"]) == (409, "chain_disabled")
    status, body = await dapi.call(
        "GET", f"/api/royalties/{owner['id']}/blockchain", token=other["access"]
    )
    assert status == 403
    address = wallet()
    status, body = await put_wallet(dapi, owner, address)
    assert (status, body) == (200, {"address": address})
    # One letter's case flipped: the checksum catches the typo.
    i = next(i for i, ch in enumerate(address) if ch.isalpha() and i > 1)
    typo = address[:i] + address[i].swapcase() + address[i + 1 :]
    assert not Web3.is_checksum_address(typo)
    status, body = await put_wallet(dapi, owner, typo)
    assert (status, body["error"]["code"]) == (400, "invalid_address")
    status, body = await put_wallet(dapi, owner, "0x1234")
    assert status == 400
    assert ledger.mirror.CURRENCY == "USD"
