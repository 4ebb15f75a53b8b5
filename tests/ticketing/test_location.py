"""Anti-sharing: a ticket's session cannot jump farther than anyone can travel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import netaddr
import pytest
from aiohttp import web
from mmdb_writer import MmdbF64, MMDBWriter

from server.keys import CLOCK
from tests.apps import app_with
from tests.conftest import Api, admin_token
from tests.ticketing.conftest import TEST_LIMITS, access_token, code_for, make_user, paid_event

# Public addresses placed by the test's own database (the real owners are elsewhere).
NEW_YORK, PHILADELPHIA, LOS_ANGELES = "8.8.8.8", "9.9.9.9", "4.4.4.4"
PLACES = {
    "8.8.8.0/24": (40.71, -74.01),
    "9.9.9.0/24": (39.95, -75.17),
    "4.4.4.0/24": (34.05, -118.24),
}


def city_database(path: Path) -> Path:
    """A small MaxMind-format City database."""
    writer = MMDBWriter(
        ip_version=4, database_type="GeoLite2-City", languages=["en"], description="test places"
    )
    for network, (lat, lon) in PLACES.items():
        writer.insert_network(
            netaddr.IPSet([network]),
            {"location": {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon)}},
        )
    writer.to_db_file(str(path))
    return path


@pytest.fixture
async def gapi(app_server: tuple[web.Application, str], tmp_path: Path) -> AsyncIterator[Api]:
    """A dev-payments app with geolocation on."""
    async with app_with(
        app_server[0], env=dict(TEST_LIMITS), geoip_db=city_database(tmp_path / "city.mmdb")
    ) as api:
        yield api


async def gate(api: Api, url: str) -> int:
    async with api.session.get(
        api.base_url + "/internal/play-auth", headers={"X-Original-URI": urlsplit(url).path}
    ) as resp:
        return resp.status


async def ticket_for(api: Api, fan: dict[str, Any], event_id: str) -> str:
    status, body = await api.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"event_id": event_id}
    )
    assert status == 201, body
    status, done = await api.call("POST", body["payment"]["confirm_url"], token=fan["access"])
    assert status == 200, done
    return str(body["ticket"]["id"])


async def reenter(api: Api, fan: dict[str, Any], ticket: str, ip: str) -> tuple[int, Any]:
    return await api.call(
        "POST",
        f"/api/tickets/{ticket}/reenter",
        token=fan["access"],
        headers={"X-Forwarded-For": ip},
    )


async def test_an_impossible_jump_is_refused_and_the_owner_can_reverify(gapi: Api) -> None:
    artist = await make_user(gapi, "artist")
    event = await paid_event(gapi, artist, capacity=5)
    fan = await gapi.register("fan")
    fan["id"] = fan["user"]["id"]
    ticket = await ticket_for(gapi, fan, event["id"])
    status, first = await gapi.call(
        "POST",
        "/api/tickets/validate",
        token=fan["access"],
        json={"code": await code_for(gapi, fan, ticket)},
        headers={"X-Forwarded-For": NEW_YORK},
    )
    assert status == 200, first

    # Moments later, 2,400 miles away: refused, recorded, and New York keeps watching.
    status, err = await reenter(gapi, fan, ticket, LOS_ANGELES)
    assert status == 403 and err["error"]["code"] == "suspicious_location", err
    assert await gate(gapi, first["playback"]["url"]) == 200
    status, found = await gapi.call(
        "GET",
        f"/api/forensics/logs?type=TICKET_LOCATION_REFUSED&subject={ticket}",
        token=await admin_token(gapi),
    )
    assert status == 200 and len(found["records"]) == 1, found
    assert found["records"][0]["data"]["distance_miles"] > 2000

    # A renewal of the New York session from Los Angeles (a shared token) is refused too.
    renew = {"session_id": first["playback"]["session_id"]}
    status, err = await gapi.call(
        "POST",
        f"/api/live/{event['id']}/playback",
        token=fan["access"],
        json=renew,
        headers={"X-Forwarded-For": LOS_ANGELES},
    )
    assert status == 403 and err["error"]["code"] == "suspicious_location", err
    status, _ = await gapi.call(
        "POST",
        f"/api/live/{event['id']}/playback",
        token=fan["access"],
        json=renew,
        headers={"X-Forwarded-For": NEW_YORK},
    )
    assert status == 200

    # Nearby (Philadelphia, 80 miles) is fine; private addresses are never located.
    status, near = await reenter(gapi, fan, ticket, PHILADELPHIA)
    assert status == 200, near
    status, home = await reenter(gapi, fan, ticket, "10.20.30.40")
    assert status == 200, home
    status, err = await reenter(gapi, fan, ticket, LOS_ANGELES)
    assert status == 403 and err["error"]["code"] == "suspicious_location"

    # The owner logs in again from Los Angeles: that re-verifies them there.
    status, session = await gapi.call(
        "POST",
        "/api/auth/login",
        json={"email": fan["email"], "password": fan["password"]},
        headers={"X-Forwarded-For": LOS_ANGELES},
    )
    assert status == 200, session
    status, moved = await reenter(gapi, fan, ticket, LOS_ANGELES)
    assert status == 200, moved
    assert await gate(gapi, home["playback"]["url"]) == 403, "the session moved to Los Angeles"


async def test_a_journey_that_takes_long_enough_is_not_suspicious(gapi: Api) -> None:
    artist = await make_user(gapi, "artist")
    event = await paid_event(gapi, artist, capacity=5, starts_at="2030-06-01T20:00:00Z")
    fan = await make_user(gapi)
    ticket = await ticket_for(gapi, fan, event["id"])
    status, _ = await gapi.call(
        "POST",
        "/api/tickets/validate",
        token=fan["access"],
        json={"code": await code_for(gapi, fan, ticket)},
        headers={"X-Forwarded-For": NEW_YORK},
    )
    assert status == 200
    # 2,450 miles in 5 hours is 490 mph: a flight, under the 600 mph limit.
    gapi.app[CLOCK].advance(5 * 3600)
    fan = {**fan, "access": access_token(gapi, fan["id"], "fan")}
    status, body = await reenter(gapi, fan, ticket, LOS_ANGELES)
    assert status == 200, body
