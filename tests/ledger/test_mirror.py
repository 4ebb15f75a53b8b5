"""The on-chain mirror as the `chain` payout method: a withdrawal reserves the money, the job
credits the wallet once and posts the payout, so the same money cannot be paid twice; the
blockchain route agrees with the ledger; an app without the mirror answers chain_disabled."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from ledger import chain, mirror
from server.keys import DB
from tests.apps import app_with
from tests.conftest import Api
from tests.ledger.conftest import Deployed
from tests.ledger.helpers import balance, fund, until
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


async def put_wallet(api: Api, owner: dict[str, Any], address: str) -> tuple[int, Any]:
    return await api.call(
        "PUT", "/api/ledger/wallet", token=owner["access"], json={"address": address}
    )


async def withdraw(
    api: Api, owner: dict[str, Any], amount: int, currency: str = "USD", method: str = "chain"
) -> tuple[int, Any]:
    return await api.call(
        "POST",
        "/api/distribution/withdraw",
        token=owner["access"],
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={"amount": amount, "currency": currency, "method": method},
    )


async def payout_status(api: Api, owner: dict[str, Any], payout_id: str) -> str:
    status, body = await api.call("GET", "/api/ledger/payouts", token=owner["access"])
    assert status == 200, body
    [found] = [p for p in body["payouts"] if p["id"] == payout_id]
    return str(found["status"])


async def settled(api: Api, owner: dict[str, Any], payout_id: str, outcome: str) -> None:
    async def check() -> bool:
        return await payout_status(api, owner, payout_id) == outcome

    await until(check)


async def artist(api: Api, usd: int, with_wallet: bool = True) -> tuple[dict[str, Any], str]:
    owner = await make_user(api, "artist")
    await fund(api.app, owner["id"], usd, "USD")
    address = wallet()
    if with_wallet:
        status, body = await put_wallet(api, owner, address.lower())
        assert (status, body) == (200, {"address": address})
    return owner, address


async def chain_events(api: Api, payout_id: str) -> list[dict[str, Any]]:
    async with api.app[DB].acquire() as conn:
        rows = await conn.fetch(
            "SELECT data FROM forensic_log WHERE type = 'CHAIN_CREDITED' AND subject = $1",
            payout_id,
        )
    return [r["data"] if isinstance(r["data"], dict) else json.loads(r["data"]) for r in rows]


async def chain_event(api: Api, payout_id: str) -> dict[str, Any]:
    """The payout's one CHAIN_CREDITED event, once the forensic trail has written it."""

    async def logged() -> bool:
        return bool(await chain_events(api, payout_id))

    await until(logged)
    [event] = await chain_events(api, payout_id)
    return event


async def test_a_chain_withdrawal_pays_the_wallet_once_and_the_money_is_gone(
    mapi: Api, deployed: Deployed
) -> None:
    owner, address = await artist(mapi, 1300)
    await fund(mapi.app, owner["id"], 500, "EUR")
    status, payout = await withdraw(mapi, owner, 1300)
    assert status == 201 and payout["method"] == "chain", payout
    await settled(mapi, owner, payout["id"], "paid")
    assert await deployed.mirror.total_credited(address) == 1300 * SCALE
    assert await deployed.mirror.balance_of(address) == 1300 * SCALE
    usd = await balance(mapi.app, owner["id"], "USD")
    assert (usd.available, usd.in_transit) == (0, 0)
    event = await chain_event(mapi, payout["id"])
    assert event["already_credited"] is False and event["wallet"] == address
    # The same money again: refused by chain (insufficient) and by SEPA (no such money there).
    status, body = await withdraw(mapi, owner, 1300)
    assert (status, body["error"]["code"]) == (409, "insufficient_funds")
    status, body = await withdraw(mapi, owner, 1300, method="sepa")
    assert 400 <= status < 500, body
    assert (await balance(mapi.app, owner["id"], "USD")).available == 0
    assert await deployed.mirror.total_credited(address) == 1300 * SCALE
    status, found = await mapi.call(
        "GET", f"/api/royalties/{owner['id']}/blockchain", token=owner["access"]
    )
    assert status == 200, found
    assert found["chain_id"] == await deployed.mirror.chain_id()
    assert found["contract"] == deployed.mirror.address and found["wallet"] == address
    assert (found["on_chain_total_credited"], found["ledger_credited"]) == (1300 * SCALE,) * 2
    assert found["ledger_pending"] == 0 and found["in_agreement"] is True
    ref = "0x" + uuid.UUID(payout["id"]).bytes.rjust(32, b"\0").hex()
    assert [(c["ref"], c["tx_hash"]) for c in found["recent"]] == [(ref, event["tx_hash"])]


class CrashAfterSending:
    """A client that sends the credit, then dies before the job can record it (once)."""

    def __init__(self, real: chain.RoyaltyMirror) -> None:
        self.real = real
        self.sent: list[chain.CreditResult] = []

    async def credit_royalty(self, artist: str, amount: int, ref: uuid.UUID) -> Any:
        result = await self.real.credit_royalty(artist, amount, ref)
        if not self.sent:
            self.sent.append(result)
            raise ConnectionError("worker lost after sending")
        return result


async def test_a_job_run_again_after_a_crash_credits_once(mapi: Api, deployed: Deployed) -> None:
    owner, address = await artist(mapi, 1700)
    crashing = CrashAfterSending(deployed.mirror)
    mapi.app[mirror.MIRROR].client = crashing  # type: ignore[assignment]
    status, payout = await withdraw(mapi, owner, 1700)
    assert status == 201, payout

    async def crashed() -> bool:
        return bool(crashing.sent)

    await until(crashed)
    assert await payout_status(mapi, owner, payout["id"]) == "pending"
    # The job run again (and again, concurrently): the contract has the reference already.
    job = {"payout_id": payout["id"]}
    await asyncio.gather(*(mirror.credit_job(mapi.app, job) for _ in range(3)))
    assert await payout_status(mapi, owner, payout["id"]) == "paid"
    assert await deployed.mirror.total_credited(address) == 1700 * SCALE
    usd = await balance(mapi.app, owner["id"], "USD")
    assert (usd.available, usd.in_transit) == (0, 0)
    event = await chain_event(mapi, payout["id"])
    assert event["already_credited"] is True and event["tx_hash"] == crashing.sent[0].tx_hash
    async with mapi.app[DB].acquire() as conn:
        tx_hash = await conn.fetchval(
            "SELECT tx_hash FROM ledger_chain_credits WHERE transfer_id = $1",
            uuid.UUID(payout["id"]),
        )
    assert tx_hash == crashing.sent[0].tx_hash


class CreditedElsewhere:
    """A client before which the payout's reference was credited for another amount."""

    def __init__(self, real: chain.RoyaltyMirror) -> None:
        self.real = real

    async def credit_royalty(self, artist: str, amount: int, ref: uuid.UUID) -> Any:
        if await self.real.credit_of(ref) is None:
            await self.real.credit_royalty(artist, amount - 1, ref)
        return await self.real.credit_royalty(artist, amount, ref)


async def test_a_definitive_refusal_voids_the_payout(mapi: Api, deployed: Deployed) -> None:
    owner, _ = await artist(mapi, 1900)
    mapi.app[mirror.MIRROR].client = CreditedElsewhere(deployed.mirror)  # type: ignore[assignment]
    status, payout = await withdraw(mapi, owner, 1900)
    assert status == 201, payout
    await settled(mapi, owner, payout["id"], "failed")
    usd = await balance(mapi.app, owner["id"], "USD")
    assert (usd.available, usd.in_transit) == (1900, 0)
    assert await chain_events(mapi, payout["id"]) == []


async def test_chain_withdrawals_need_a_wallet_and_usd(mapi: Api, deployed: Deployed) -> None:
    owner, address = await artist(mapi, 2000, with_wallet=False)
    await fund(mapi.app, owner["id"], 2000, "EUR")
    status, body = await withdraw(mapi, owner, 1500)
    assert (status, body["error"]["code"]) == (409, "no_payout_account")
    assert (await put_wallet(mapi, owner, address))[0] == 200
    status, body = await withdraw(mapi, owner, 1500, currency="EUR")
    assert (status, body["error"]["code"]) == (400, "unsupported_currency")
    status, body = await withdraw(mapi, owner, 1500, currency="GBP")
    assert 400 <= status < 500 and "error" in body
    assert (await balance(mapi.app, owner["id"], "USD")).available == 2000
    assert (await balance(mapi.app, owner["id"], "EUR")).available == 2000
    status, body = await mapi.call("GET", "/api/ledger/payouts", token=owner["access"])
    assert (status, body["payouts"]) == (200, [])
    assert await deployed.mirror.total_credited(address) == 0


async def test_without_the_mirror_chain_is_disabled_and_nothing_moves(dapi: Api) -> None:
    owner, _ = await artist(dapi, 1900)
    status, body = await withdraw(dapi, owner, 1900)
    assert (status, body["error"]["code"]) == (409, "chain_disabled")
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    usd = await balance(dapi.app, owner["id"], "USD")
    assert (usd.available, usd.in_transit) == (1900, 0)
    status, body = await dapi.call("GET", "/api/ledger/payouts", token=owner["access"])
    assert (status, body["payouts"]) == (200, [])
    async with dapi.app[DB].acquire() as conn:
        queued = await conn.fetchval(
            "SELECT count(*) FROM ledger_chain_credits WHERE artist_id = $1", owner["id"]
        )
    assert queued == 0
    status, body = await dapi.call(
        "GET", f"/api/royalties/{owner['id']}/blockchain", token=owner["access"]
    )
    assert (status, body["error"]["code"]) == (409, "chain_disabled")
    other = await make_user(dapi, "artist")
    status, body = await dapi.call(
        "GET", f"/api/royalties/{owner['id']}/blockchain", token=other["access"]
    )
    assert status == 403


async def test_wallets_are_checked(dapi: Api) -> None:
    owner = await make_user(dapi, "artist")
    address = wallet()
    # One letter's case flipped: the checksum catches the typo.
    i = next(i for i, ch in enumerate(address) if ch.isalpha() and i > 1)
    typo = address[:i] + address[i].swapcase() + address[i + 1 :]
    assert not Web3.is_checksum_address(typo)
    for bad in (typo, "0x" + "0" * 40, "0x" + "g" * 40):
        status, body = await put_wallet(dapi, owner, bad)
        assert (status, body["error"]["code"]) == (400, "invalid_address"), bad
    status, body = await put_wallet(dapi, owner, "0x1234")  # the wrong length
    assert status == 400 and "error" in body
