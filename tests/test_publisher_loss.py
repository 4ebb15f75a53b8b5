"""Publishers the app stops hearing about: a lost on_publish_done, a key rotated mid-show."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from server.clock import Clock
from server.jobs import JOBS
from server.live import sweeper
from server.live.service import STATUS_LISTENERS, STATUS_OUTBOX
from tests.conftest import Api, admin_token
from tests.streaming import until
from tests.test_live import hook, post_form, publish_form


def client_id() -> str:
    """An nginx clientid no other test's leftover claim holds."""
    return str(uuid.uuid4().int % 10**12)


@pytest.fixture
def status_changes(api: Api) -> Iterator[list[tuple[str, uuid.UUID, str]]]:
    """Status changes seen by the outbox (in the transaction) and by the listeners."""
    seen: list[tuple[str, uuid.UUID, str]] = []

    async def outbox(
        app: web.Application, conn: asyncpg.Connection, event_id: uuid.UUID, status: str
    ) -> None:
        assert conn.is_in_transaction()
        seen.append(("outbox", event_id, status))

    async def listener(app: web.Application, event_id: uuid.UUID, status: str) -> None:
        seen.append(("listener", event_id, status))

    api.app[STATUS_OUTBOX].append(outbox)
    api.app[STATUS_LISTENERS].append(listener)
    yield seen
    api.app[STATUS_OUTBOX].remove(outbox)
    api.app[STATUS_LISTENERS].remove(listener)


async def run_sweep(api: Api) -> None:
    """Run the live package's scheduled sweep as the job queue does on a tick."""
    await api.app[JOBS].schedules[sweeper.END_STALE].run(api.app)


async def test_a_lost_publish_done_ends_the_show_once_the_claim_is_stale(
    api: Api, clock: Clock, status_changes: list[tuple[str, uuid.UUID, str]]
) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    client = client_id()
    status, _, _ = await post_form(
        api, hook(api, "publish"), publish_form(event["stream_key"], client)
    )
    assert status == 302
    # The last heartbeat nginx delivers; then the publisher leaves while the app is down.
    clock.advance(30)
    last_seen = clock.now()
    status, _, _ = await post_form(
        api, hook(api, "update"), publish_form(event["id"], client, call="update_publish")
    )
    assert status == 204
    clock.advance(60)
    await run_sweep(api)
    _, live = await api.call("GET", f"/api/live/{event['id']}")
    assert live["status"] == "live" and live["publishing"], "a fresh claim is left alone"
    clock.advance(31)
    await run_sweep(api)
    _, ended = await api.call("GET", f"/api/live/{event['id']}")
    assert ended["status"] == "ended" and not ended["publishing"]
    ended_at = datetime.fromisoformat(ended["ended_at"])
    assert abs((ended_at - last_seen).total_seconds()) < 1, (ended_at, last_seen)
    event_id = uuid.UUID(event["id"])
    ends = sorted(c for c in status_changes if c[1] == event_id and c[2] == "ended")
    assert ends == [("listener", event_id, "ended"), ("outbox", event_id, "ended")]
    auditor = await admin_token(api)

    async def recorded() -> Any:
        status, found = await api.call(
            "GET", f"/api/forensics/logs?type=STREAM_ENDED&subject={event['id']}", token=auditor
        )
        assert status == 200, found
        return found["records"] or None

    [record] = await until(recorded, 20, "the stream's end record")
    assert record["data"]["client"] == client
    # Creation and start are recorded through the outbox of their own transactions too.
    for kind in ("EVENT_CREATED", "STREAM_STARTED"):

        async def found(kind: str = kind) -> Any:
            _, page = await api.call(
                "GET", f"/api/forensics/logs?type={kind}&subject={event['id']}", token=auditor
            )
            return page["records"] or None

        [other] = await until(found, 20, f"the event's {kind} record")
        assert other["subject"] == event["id"]
    # OBS coming back within the grace after the last sign of life resumes the show.
    status, _, _ = await post_form(
        api, hook(api, "publish"), publish_form(event["stream_key"], client)
    )
    assert status == 302
    _, resumed = await api.call("GET", f"/api/live/{event['id']}")
    assert resumed["status"] == "live" and resumed["started_at"] == live["started_at"]


async def test_a_key_rotated_mid_show_still_names_the_stream_by_its_client(
    api: Api, clock: Clock, status_changes: list[tuple[str, uuid.UUID, str]]
) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    client = client_id()
    old_key = event["stream_key"]
    status, _, _ = await post_form(api, hook(api, "publish"), publish_form(old_key, client))
    assert status == 302
    status, rotated = await api.call(
        "POST", f"/api/live/{event['id']}/stream-key", token=artist["access"]
    )
    assert status == 200
    # nginx keeps reporting the stream under the key it arrived with.
    clock.advance(60)
    status, _, _ = await post_form(
        api, hook(api, "update"), publish_form(old_key, client, call="update_publish")
    )
    assert status == 204
    clock.advance(60)
    # The heartbeat refreshed the claim: 120 s after the publish it still holds the event.
    status, _, _ = await post_form(
        api, hook(api, "publish"), publish_form(rotated["stream_key"], client_id())
    )
    assert status == 403
    await run_sweep(api)
    _, live = await api.call("GET", f"/api/live/{event['id']}")
    assert live["status"] == "live" and live["publishing"]
    # Another client's report under the old key does not touch the claim.
    status, _, _ = await post_form(
        api, hook(api, "publish_done"), publish_form(old_key, client_id(), call="publish_done")
    )
    assert status == 204
    _, live = await api.call("GET", f"/api/live/{event['id']}")
    assert live["status"] == "live"
    status, _, _ = await post_form(
        api, hook(api, "publish_done"), publish_form(old_key, client, call="publish_done")
    )
    assert status == 204
    _, ended = await api.call("GET", f"/api/live/{event['id']}")
    assert ended["status"] == "ended" and not ended["publishing"]
    event_id = uuid.UUID(event["id"])
    assert ("outbox", event_id, "ended") in status_changes
