"""Unpaid seat holds are limited per account and per address, also under concurrency."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web

from tests.apps import app_with
from tests.conftest import Api
from tests.ticketing.conftest import TEST_LIMITS, make_fans, make_user, paid_event


async def hold(api: Api, fan: dict[str, Any], event_id: str, address: str) -> tuple[int, Any]:
    return await api.call(
        "POST",
        "/api/tickets/purchase",
        token=fan["access"],
        json={"event_id": event_id},
        headers={"X-Forwarded-For": address},
    )


async def test_a_throwaway_account_cannot_hold_more_than_n_seats(
    app_server: tuple[web.Application, str],
) -> None:
    env = {**TEST_LIMITS, "MHC_HOLDS_PER_ACCOUNT": "3", "MHC_HOLDS_PER_ADDRESS": "1000"}
    async with app_with(app_server[0], env=env) as api:
        artist = await make_user(api, "artist")
        events = [await paid_event(api, artist, capacity=2) for _ in range(5)]
        throwaway = await make_user(api)
        address = f"198.51.100.{secrets.randbelow(250)}"
        replies = await asyncio.gather(*(hold(api, throwaway, e["id"], address) for e in events))
        statuses = sorted(status for status, _ in replies)
        assert statuses == [201, 201, 201, 429, 429], replies
        assert {b["error"]["code"] for s, b in replies if s == 429} == {"too_many_holds"}
        # The seats it could not hold are still there for real fans.
        fans = await make_fans(api, len(events))
        for fan, event in zip(fans, events, strict=True):
            status, body = await hold(api, fan, event["id"], "203.0.113.9")
            assert status == 201, body


async def test_one_address_cannot_hold_more_than_n_seats(
    app_server: tuple[web.Application, str],
) -> None:
    env = {**TEST_LIMITS, "MHC_HOLDS_PER_ACCOUNT": "3", "MHC_HOLDS_PER_ADDRESS": "4"}
    async with app_with(app_server[0], env=env) as api:
        artist = await make_user(api, "artist")
        event = await paid_event(api, artist, capacity=20)
        accounts = await make_fans(api, 7)
        address = f"192.0.2.{secrets.randbelow(250)}"
        replies = await asyncio.gather(*(hold(api, a, event["id"], address) for a in accounts))
        assert sorted(s for s, _ in replies) == [201] * 4 + [429] * 3, replies
        status, _ = await hold(api, accounts[-1], event["id"], "203.0.113.10")
        assert status in (200, 201), "the same account from elsewhere may still buy"
