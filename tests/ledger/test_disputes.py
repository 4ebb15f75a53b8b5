"""A lost dispute (chargeback) reverses the sale in the ledger, like a refund."""

from __future__ import annotations

import stripe

from server.keys import DB
from tests.conftest import Api
from tests.ledger.helpers import balance, until
from tests.ticketing.conftest import buy, charge_id, deliver, make_user, paid_event
from tests.ticketing.test_refunds import _payment_of


async def test_a_lost_dispute_voids_the_artists_pending_share(
    tapi: Api, localstripe: str, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    a = artist["id"]
    event = await paid_event(tapi, artist, price=999)
    ticket = await buy(tapi, stripe_client, fan, event["id"])

    async def pending_is(n: int) -> bool:
        return (await balance(tapi.app, a)).pending == n

    await until(lambda: pending_is(801))
    pi = await stripe_client.v1.payment_intents.retrieve_async(
        await _payment_of(tapi, str(ticket["id"]))
    )
    async with tapi.session.post(
        f"{localstripe}/_config/disputes", json={"charge": charge_id(pi)}
    ) as resp:
        dispute = await resp.json()
    async with tapi.session.post(
        f"{localstripe}/_config/disputes/{dispute['id']}/close", json={"status": "lost"}
    ) as resp:
        assert resp.status == 200
    status, hook = await deliver(
        tapi, "charge.dispute.closed", {"id": dispute["id"], "object": "dispute", "status": "lost"}
    )
    assert status == 200, hook
    await until(lambda: pending_is(0))
    async with tapi.app[DB].acquire() as conn:
        codes = await conn.fetch(
            "SELECT DISTINCT code FROM ledger_transfers WHERE ref = $1", str(ticket["id"])
        )
    assert {r["code"] for r in codes} == {"ticket_sale", "ticket_chargeback"}
