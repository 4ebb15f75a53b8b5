"""Balances and monthly statements over HTTP: they reconcile with the ledger to the cent."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

import ledger
from ledger.accounts import CLEARING, artist
from server.keys import CLOCK
from tests.conftest import Api
from tests.ledger.helpers import balance, until
from tests.ledger.test_tickets import buy
from tests.ticketing.conftest import make_user, paid_event


async def test_a_month_with_sales_a_refund_a_tip_and_a_payout_reconciles(dapi: Api) -> None:
    app = dapi.app
    owner = await make_user(dapi, "artist")
    a = owner["id"]
    month = app[CLOCK].now().strftime("%Y-%m")
    status, empty = await dapi.call(
        "GET", f"/api/royalties/statement?month={month}", token=owner["access"]
    )
    assert status == 200 and empty["currencies"] == []

    event = await paid_event(dapi, owner, price=999)
    tickets = [await buy(dapi, event["id"]) for _ in range(3)]
    await until(lambda: _pending(app, a, 3 * 801))
    status, _ = await dapi.call("POST", f"/api/tickets/{tickets[0]}/refund", token=owner["access"])
    assert status == 200
    await until(lambda: _pending(app, a, 2 * 801))
    await ledger.post(app, ledger.tip(uuid.uuid4(), a, "EUR", 250))
    await ledger.post(
        app,
        ledger.Posting(
            "EUR",
            "payout",
            "payout",
            (ledger.Leg(uuid.uuid4(), artist("artist_available", a), CLEARING, 200),),
        ),
    )

    status, bal = await dapi.call("GET", "/api/ledger/balance", token=owner["access"])
    assert status == 200
    assert bal["balances"] == [
        {"currency": "EUR", "pending": 1602, "available": 50, "in_transit": 0, "receivable": 0}
    ]
    status, st = await dapi.call(
        "GET", f"/api/royalties/statement?month={month}", token=owner["access"]
    )
    assert status == 200, st
    [eur] = st["currencies"]
    lines = {line["source"]: line for line in eur["lines"]}
    assert lines[f"event:{event['id']}"] == {
        "source": f"event:{event['id']}",
        "gross": 2 * 999,
        "platform_fee": 2 * 99,
        "processing": 2 * 99,
        "artist_payout": 2 * 801,
    }
    assert lines["tip"] == {
        "source": "tip",
        "gross": 250,
        "platform_fee": 0,
        "processing": 0,
        "artist_payout": 250,
    }
    assert (eur["opening"], eur["payouts"]) == (0, 200)
    assert (
        eur["closing"]
        == eur["opening"] + sum(line["artist_payout"] for line in eur["lines"]) - eur["payouts"]
    )
    b = await balance(app, a)
    assert eur["closing"] == b.pending + b.available - b.receivable == 1652

    status, text = await dapi.call(
        "GET", f"/api/royalties/statement?month={month}&format=csv", token=owner["access"]
    )
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["row"] for r in rows] == [
        "opening",
        f"event:{event['id']}",
        "tip",
        "payouts",
        "closing",
    ]
    assert rows[-1]["balance"] == "1652"

    # Admins read any artist's statement; other artists read none but their own.
    admin, other = await make_user(dapi, "admin"), await make_user(dapi, "artist")
    status, seen = await dapi.call(
        "GET", f"/api/royalties/statement?month={month}&artist_id={a}", token=admin["access"]
    )
    assert status == 200 and seen == st
    status, body = await dapi.call(
        "GET", f"/api/royalties/statement?month={month}&artist_id={a}", token=other["access"]
    )
    assert status == 403 and body["error"]["code"] == "forbidden"
    # An earlier month is empty, and the next one opens where this one closed.
    status, before = await dapi.call(
        "GET", "/api/royalties/statement?month=2001-01", token=owner["access"]
    )
    assert status == 200 and before["currencies"] == []


async def _pending(app: object, a: uuid.UUID, n: int) -> bool:
    return (await balance(app, a)).pending == n  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query,code",
    [
        ("month=2024-13", "invalid_month"),
        ("month=2024-00", "invalid_month"),
        ("month=1999-12", "invalid_month"),
        ("month=24-01", "invalid_field"),
        ("", "invalid_field"),
        ("month=2024-01&format=pdf", "invalid_field"),
        ("month=2024-01&artist_id=nope", "invalid_id"),
    ],
)
async def test_bad_statement_queries_are_400(dapi: Api, query: str, code: str) -> None:
    owner = await make_user(dapi, "artist")
    status, body = await dapi.call(
        "GET", f"/api/royalties/statement?{query}", token=owner["access"]
    )
    assert status == 400 and body["error"]["code"] == code, body


async def test_fans_have_no_balance_or_statement(dapi: Api) -> None:
    fan = await make_user(dapi)
    for path in ("/api/ledger/balance", "/api/royalties/statement?month=2024-01"):
        status, body = await dapi.call("GET", path, token=fan["access"])
        assert status == 403, body
        status, _ = await dapi.call("GET", path)
        assert status == 401
