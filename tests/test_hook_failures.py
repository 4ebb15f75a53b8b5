"""The nginx-rtmp hooks when the app itself fails: streams survive, secrets stay out of logs."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from server.keys import CONFIG
from server.live import service, store
from tests.conftest import Api
from tests.test_live import hook, post_form, publish_form


async def test_heartbeat_survives_a_database_failure(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    assert (await post_form(api, hook(api, "publish"), publish_form(event["stream_key"], "1")))[
        0
    ] == 302

    async def down(*args: object) -> bool:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    monkeypatch.setattr(store, "publisher_seen", down)
    # nginx-rtmp drops the publisher on any non-2xx heartbeat: the app's own failure must not.
    for name in (event["id"], event["stream_key"]):
        status, _, _ = await post_form(
            api, hook(api, "update"), publish_form(name, "1", call="update_publish")
        )
        assert status == 204, name


async def test_heartbeat_refuses_a_publisher_that_lost_its_claim(api: Api, clock) -> None:  # type: ignore[no-untyped-def]
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    assert (await post_form(api, hook(api, "publish"), publish_form(event["stream_key"], "1")))[
        0
    ] == 302
    status, _, _ = await post_form(
        api, hook(api, "update"), publish_form(event["stream_key"], "1", call="update_publish")
    )
    assert status == 204
    # Client 1's claim went stale and client 2 took the event over: 1 is a ghost now.
    clock.advance(91)
    assert (await post_form(api, hook(api, "publish"), publish_form(event["stream_key"], "2")))[
        0
    ] == 302
    status, body, _ = await post_form(
        api, hook(api, "update"), publish_form(event["stream_key"], "1", call="update_publish")
    )
    assert status == 403 and "publisher_replaced" in body
    status, _, _ = await post_form(
        api, hook(api, "update"), publish_form(event["stream_key"], "2", call="update_publish")
    )
    assert status == 204
    # A name that matches no event (a key rotated mid-show) is never refused.
    status, _, _ = await post_form(
        api, hook(api, "update"), publish_form("live_unknown", "2", call="update_publish")
    )
    assert status == 204


async def test_a_failing_hook_logs_its_route_not_its_secret(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])

    async def broken(*args: object) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(service, "publish_started", broken)
    secret = api.app[CONFIG].hook_secret
    with caplog.at_level(logging.DEBUG):
        status, body, _ = await post_form(
            api, hook(api, "publish"), publish_form(event["stream_key"])
        )
    assert status == 500 and '"internal"' in body
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "hook_publish" in logged, logged
    assert secret not in logged and secret not in caplog.text
