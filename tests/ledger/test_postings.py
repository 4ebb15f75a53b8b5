"""The ledger core through `ledger.post`: idempotency, atomic linked legs, limits under
concurrency, pending transfers, and the invariants the database itself enforces."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from aiohttp import web

import ledger
from ledger.accounts import CLEARING, PLATFORM_REVENUE, artist
from server.keys import DB
from tests.ledger.helpers import balance, fund
from tests.streaming import until


def _withdraw(
    artist_id: uuid.UUID,
    amount: Any,
    *,
    leg: uuid.UUID | None = None,
    pending: bool = False,
    currency: str = "EUR",
) -> ledger.Posting:
    return ledger.Posting(
        currency,
        "payout",
        "payout",
        (
            ledger.Leg(
                leg or uuid.uuid4(),
                artist("artist_available", artist_id),
                CLEARING,
                amount,
                pending,
            ),
        ),
    )


async def test_a_tip_is_available_and_a_replay_returns_the_first_result(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    a, tip_id = uuid.uuid4(), uuid.uuid4()
    first = await ledger.post(app, ledger.tip(tip_id, a, "EUR", 500))
    again = await ledger.post(app, ledger.tip(tip_id, a, "EUR", 500))
    assert first.created and not again.created
    assert again.transfers == first.transfers
    assert (await balance(app, a)).available == 500
    with pytest.raises(ledger.LedgerError) as err:
        await ledger.post(app, ledger.tip(tip_id, a, "EUR", 501))
    assert err.value.code == "conflict"
    assert (await balance(app, a)).available == 500


async def test_concurrent_replays_of_one_posting_apply_it_once(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    a, tip_id = uuid.uuid4(), uuid.uuid4()
    results = await asyncio.gather(
        *(ledger.post(app, ledger.tip(tip_id, a, "EUR", 700)) for _ in range(10))
    )
    assert sum(r.created for r in results) == 1
    assert (await balance(app, a)).available == 700


async def test_linked_legs_apply_together_or_not_at_all(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    a = uuid.uuid4()
    await fund(app, a, 100)
    posting = ledger.Posting(
        "EUR",
        "payout",
        "payout",
        (
            ledger.Leg(uuid.uuid4(), CLEARING, PLATFORM_REVENUE, 50),
            ledger.Leg(uuid.uuid4(), artist("artist_available", a), CLEARING, 101),
        ),
    )
    with pytest.raises(ledger.LedgerError) as err:
        await ledger.post(app, posting)
    assert err.value.code == "insufficient_funds"
    async with app[DB].acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM ledger_transfers WHERE id = ANY($1)",
                [leg.id for leg in posting.legs],
            )
            == 0
        )
    assert (await balance(app, a)).available == 100


async def test_concurrent_overdrawing_postings_exactly_the_allowed_ones_succeed(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    a = uuid.uuid4()
    await fund(app, a, 1000)

    async def take() -> bool:
        try:
            await ledger.post(app, _withdraw(a, 150))
            return True
        except ledger.LedgerError as exc:
            assert exc.code == "insufficient_funds"
            return False

    results = await asyncio.gather(*(take() for _ in range(20)))
    assert sum(results) == 6
    assert (await balance(app, a)).available == 100


async def test_pending_transfers_reserve_then_post_or_void(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    a = uuid.uuid4()
    await fund(app, a, 1000)
    p1, p2 = uuid.uuid4(), uuid.uuid4()
    await ledger.post(app, _withdraw(a, 600, leg=p1, pending=True))
    assert (await balance(app, a)).available == 400
    assert (await balance(app, a)).in_transit == 600
    with pytest.raises(ledger.LedgerError) as err:  # the reservation counts against the limit
        await ledger.post(app, _withdraw(a, 600, leg=p2, pending=True))
    assert err.value.code == "insufficient_funds"
    void = ledger.Posting("EUR", "payout", "payout", (ledger.Resolve(uuid.uuid4(), p1, False),))
    await ledger.post(app, void)
    assert (await balance(app, a)).available == 1000
    with pytest.raises(ledger.LedgerError) as err:  # resolved once only
        await ledger.post(
            app,
            ledger.Posting("EUR", "payout", "payout", (ledger.Resolve(uuid.uuid4(), p1, True),)),
        )
    assert err.value.code == "already_resolved"
    assert (await ledger.post(app, void)).created is False  # a replay of the void
    await ledger.post(app, _withdraw(a, 700, leg=p2, pending=True))
    await ledger.post(
        app, ledger.Posting("EUR", "payout", "payout", (ledger.Resolve(uuid.uuid4(), p2, True),))
    )
    b = await balance(app, a)
    assert (b.available, b.in_transit) == (300, 0)


@pytest.mark.parametrize(
    "amount,currency,code",
    [
        (0, "EUR", "invalid_amount"),
        (-5, "EUR", "invalid_amount"),
        (1.5, "EUR", "invalid_amount"),
        (True, "EUR", "invalid_amount"),
        (10**18, "EUR", "invalid_amount"),
        (100, "eur", "invalid_currency"),
        (100, "EURO", "invalid_currency"),
    ],
)
async def test_bad_postings_are_refused_and_nothing_is_written(
    app_server: tuple[web.Application, str], amount: Any, currency: str, code: str
) -> None:
    app = app_server[0]
    posting = ledger.tip(uuid.uuid4(), uuid.uuid4(), currency, amount)
    with pytest.raises(ledger.LedgerError) as err:
        await ledger.post(app, posting)
    assert err.value.code == code
    async with app[DB].acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM ledger_transfers WHERE ref = $1", posting.ref)
            == 0
        )


async def test_the_database_refuses_edits_of_history_and_of_balances(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    a = uuid.uuid4()
    posted = await ledger.post(app, ledger.tip(uuid.uuid4(), a, "EUR", 300))
    t = posted.transfers[0]
    async with app[DB].acquire() as conn:
        for sql in (
            "UPDATE ledger_transfers SET amount = 1 WHERE id = $1",
            "DELETE FROM ledger_transfers WHERE id = $1",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql, t.id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "UPDATE ledger_balances SET credits_posted = credits_posted + 1 "
                "WHERE account_id = $1",
                t.credit_account_id,
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE ledger_transfers CASCADE")
        # A transfer written by hand between accounts of different currencies is refused.
        await ledger.post(app, ledger.tip(uuid.uuid4(), a, "USD", 300))
        usd = artist("artist_available", a).id("USD")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                """INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount,
                       currency, kind, posting_id, code, source)
                   VALUES ($1, $2, $3, 10, 'EUR', 'posted', $1, 'x', 'x')""",
                uuid.uuid4(),
                usd,
                t.credit_account_id,
            )
    assert (await balance(app, a)).available == 300


async def test_many_concurrent_postings_commit_together_and_each_is_whole(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    artists = [uuid.uuid4() for _ in range(10)]
    tips = [(uuid.uuid4(), artists[i % 10], 100 + i) for i in range(200)]
    # One posting that cannot fit rides along: it is refused alone, the others still land.
    broke = uuid.uuid4()
    results = await asyncio.gather(
        *(ledger.post(app, ledger.tip(t, a, "EUR", n)) for t, a, n in tips),
        ledger.post(app, _withdraw(broke, 1)),
        return_exceptions=True,
    )
    assert all(isinstance(r, ledger.Posted) and r.created for r in results[:-1])
    assert isinstance(results[-1], ledger.LedgerError)
    assert results[-1].code == "insufficient_funds"
    for a in artists:
        assert (await balance(app, a)).available == sum(n for _, x, n in tips if x == a)
    async with app[DB].acquire() as conn:
        postings = await conn.fetchval(
            "SELECT count(DISTINCT posting_id) FROM ledger_transfers WHERE ref = ANY($1)",
            [str(t) for t, _, _ in tips],
        )
    assert postings == 200


async def test_each_posting_of_a_committed_batch_gets_its_forensic_record(
    app_server: tuple[web.Application, str],
) -> None:
    app = app_server[0]
    tips = [(uuid.uuid4(), uuid.uuid4()) for _ in range(60)]
    # Posted at once, they share commits; each still leaves one LEDGER_POSTED record.
    posted = await asyncio.gather(
        *(ledger.post(app, ledger.tip(t, a, "EUR", 100)) for t, a in tips)
    )
    subjects = [str(p.posting_id) for p in posted]

    async def recorded() -> list[str] | None:
        async with app[DB].acquire() as conn:
            rows = await conn.fetch(
                "SELECT subject FROM forensic_log WHERE type = 'LEDGER_POSTED'"
                " AND subject = ANY($1)",
                subjects,
            )
        found = [r["subject"] for r in rows]
        return found if len(found) >= len(subjects) else None

    found = await until(recorded, 30, "a forensic record for each posting")
    assert sorted(found) == sorted(subjects)
