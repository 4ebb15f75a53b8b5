"""Withdrawals over HTTP: idempotent, one in flight per method, never overdrawn under
concurrency; SEPA batches exported as pain.001 and settled paid or failed."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.apps import app_with
from tests.conftest import Api
from tests.ledger.helpers import balance, fund
from tests.ticketing.conftest import make_user

SEPA_ENV = {
    "MHC_SEPA_DEBTOR_NAME": "MHC Live Platform",
    "MHC_SEPA_DEBTOR_IBAN": "DE89370400440532013000",
    "MHC_SEPA_DEBTOR_BIC": "COBADEFFXXX",
}
IBAN = "FR14 2004 1010 0505 0001 3M02 606"


@pytest.fixture
async def sapi(dapi: Api) -> AsyncIterator[Api]:
    """An app process with the platform's SEPA account configured."""
    async with app_with(dapi.app, env=SEPA_ENV) as api:
        yield api


async def artist_with(api: Api, amount: int, iban: bool = True) -> dict[str, Any]:
    owner = await make_user(api, "artist")
    await fund(api.app, owner["id"], amount)
    if iban:
        status, body = await api.call(
            "POST",
            "/api/ledger/payout-accounts/sepa",
            token=owner["access"],
            json={"iban": IBAN, "name": "Ada"},
        )
        assert status == 200 and body["iban"].startswith("FR14"), body
    return owner


async def withdraw(
    api: Api, owner: dict[str, Any], amount: Any, key: str | None = None, **fields: Any
) -> tuple[int, Any]:
    headers = {} if key == "" else {"Idempotency-Key": key or str(uuid.uuid4())}
    return await api.call(
        "POST",
        "/api/distribution/withdraw",
        token=owner["access"],
        headers=headers,
        json={"amount": amount, "currency": "EUR", "method": "sepa", **fields},
    )


async def test_fifty_concurrent_withdrawals_of_everything_exactly_one_succeeds(dapi: Api) -> None:
    owner = await artist_with(dapi, 5000)
    results = await asyncio.gather(*(withdraw(dapi, owner, 5000) for _ in range(50)))
    statuses = sorted(s for s, _ in results)
    assert statuses == [201] + [409] * 49, statuses
    codes = {b["error"]["code"] for s, b in results if s == 409}
    assert codes <= {"withdrawal_in_flight", "insufficient_funds"}, codes
    b = await balance(dapi.app, owner["id"])
    assert (b.available, b.in_transit) == (0, 5000)
    status, listed = await dapi.call("GET", "/api/ledger/payouts", token=owner["access"])
    assert status == 200 and len(listed["payouts"]) == 1


async def test_the_idempotency_key_returns_the_first_withdrawal(dapi: Api) -> None:
    owner = await artist_with(dapi, 5000)
    key = str(uuid.uuid4())
    s1, first = await withdraw(dapi, owner, 2000, key)
    s2, again = await withdraw(dapi, owner, 2000, key)
    assert (s1, s2) == (201, 200) and first == again
    s3, other = await withdraw(dapi, owner, 2500, key)
    assert s3 == 409 and other["error"]["code"] == "idempotency_mismatch"
    s4, missing = await withdraw(dapi, owner, 2000, "")
    assert s4 == 400 and missing["error"]["code"] == "invalid_idempotency_key"
    assert (await balance(dapi.app, owner["id"])).available == 3000


@pytest.mark.parametrize(
    "amount,fields,status,code",
    [
        (0, {}, 400, "invalid_field"),
        (-100, {}, 400, "invalid_field"),
        (1500.5, {}, 400, "invalid_field"),
        (10**16, {}, 400, "invalid_field"),
        ("1500", {}, 400, "invalid_field"),
        (True, {}, 400, "invalid_field"),
        (1500, {"currency": "eur"}, 400, "invalid_field"),
        (1500, {"currency": "XYZ"}, 404, "unknown_currency"),
        (1500, {"currency": "USD"}, 404, "unknown_currency"),
        (1500, {"method": "paypal"}, 400, "unknown_method"),
        (1500, {"artist_id": str(uuid.uuid4())}, 400, "invalid_field"),
        (999, {}, 400, "below_minimum"),
        (5001, {}, 409, "insufficient_funds"),
    ],
)
async def test_bad_withdrawals_are_refused_and_nothing_moves(
    dapi: Api, amount: Any, fields: dict[str, Any], status: int, code: str
) -> None:
    owner = await artist_with(dapi, 5000)
    got, body = await withdraw(dapi, owner, amount, **fields)
    assert (got, body["error"]["code"]) == (status, code), body
    b = await balance(dapi.app, owner["id"])
    assert (b.available, b.in_transit) == (5000, 0)
    _, listed = await dapi.call("GET", "/api/ledger/payouts", token=owner["access"])
    assert listed["payouts"] == []


async def test_without_an_iban_sepa_is_refused_and_a_malformed_iban_is_400(dapi: Api) -> None:
    owner = await artist_with(dapi, 5000, iban=False)
    status, body = await withdraw(dapi, owner, 2000)
    assert status == 409 and body["error"]["code"] == "no_payout_account"
    for bad in ("DE89370400440532013001", "XX00123", "FR14 2004 1010 0505 0001 3M02 60"):
        status, body = await dapi.call(
            "POST",
            "/api/ledger/payout-accounts/sepa",
            token=owner["access"],
            json={"iban": bad, "name": "Ada"},
        )
        assert status == 400 and body["error"]["code"] == "invalid_iban", (bad, body)
    assert (await balance(dapi.app, owner["id"])).available == 5000


async def test_sepa_batch_exports_pain001_then_settles_paid_or_failed(sapi: Api) -> None:
    app = sapi.app
    admin = await make_user(sapi, "admin")
    owner = await artist_with(sapi, 5000)
    status, _ = await sapi.call("POST", "/api/ledger/payouts/batches", token=owner["access"])
    assert status == 403
    while (await sapi.call("POST", "/api/ledger/payouts/batches", token=admin["access"]))[0] == 201:
        pass  # batch whatever other tests left pending
    status, payout = await withdraw(sapi, owner, 1234)
    assert status == 201 and payout["status"] == "pending"
    status, batch = await sapi.call("POST", "/api/ledger/payouts/batches", token=admin["access"])
    assert status == 201 and batch["payouts"] == [payout["id"]] and batch["total"] == 1234
    status, xml = await sapi.call("GET", batch["document"], token=admin["access"])
    assert status == 200
    doc = ET.fromstring(xml)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert [e.text for e in doc.findall(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns)] == ["12.34"]
    assert [e.text for e in doc.findall(".//p:CdtrAcct/p:Id/p:IBAN", ns)] == [
        "FR1420041010050500013M02606"
    ]
    b = await balance(app, owner["id"])
    assert (b.available, b.in_transit) == (5000 - 1234, 1234)
    status, done = await sapi.call(
        "POST",
        f"/api/ledger/payouts/batches/{batch['id']}/settle",
        token=admin["access"],
        json={"outcome": "paid"},
    )
    assert status == 200 and [p["status"] for p in done["payouts"]] == ["paid"]
    b = await balance(app, owner["id"])
    assert (b.available, b.in_transit) == (5000 - 1234, 0)
    status, body = await sapi.call(
        "POST",
        f"/api/ledger/payouts/batches/{batch['id']}/settle",
        token=admin["access"],
        json={"outcome": "failed"},
    )
    assert status == 409 and body["error"]["code"] == "batch_settled"

    # A rejected batch gives the money back.
    status, _ = await withdraw(sapi, owner, 2000)
    assert status == 201
    status, batch = await sapi.call("POST", "/api/ledger/payouts/batches", token=admin["access"])
    assert status == 201
    status, done = await sapi.call(
        "POST",
        f"/api/ledger/payouts/batches/{batch['id']}/settle",
        token=admin["access"],
        json={"outcome": "failed"},
    )
    assert status == 200 and [p["status"] for p in done["payouts"]] == ["failed"]
    b = await balance(app, owner["id"])
    assert (b.available, b.in_transit) == (5000 - 1234, 0)
    status, _ = await sapi.call("POST", "/api/ledger/payouts/batches", token=admin["access"])
    assert status == 204
    _, listed = await sapi.call("GET", "/api/ledger/payouts", token=owner["access"])
    assert [p["status"] for p in listed["payouts"]] == ["failed", "paid"]


async def test_export_without_a_debtor_account_is_refused(dapi: Api) -> None:
    admin = await make_user(dapi, "admin")
    status, body = await dapi.call("POST", "/api/ledger/payouts/batches", token=admin["access"])
    assert status == 409 and body["error"]["code"] == "sepa_not_configured"
