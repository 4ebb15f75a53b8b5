"""Live events over HTTP and the nginx-rtmp hooks as nginx calls them (form-encoded)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from server.keys import CONFIG
from tests.conftest import Api, promote


def hook(api: Api, name: str) -> str:
    return f"/hooks/rtmp/{api.app[CONFIG].hook_secret}/{name}"


def publish_form(key: str, client: str = "7", **extra: str) -> dict[str, str]:
    """The fields nginx-rtmp sends with on_publish."""
    return {
        "app": "live",
        "flashver": "FMLE/3.0",
        "swfurl": "",
        "tcurl": "rtmp://127.0.0.1/live",
        "pageurl": "",
        "addr": "127.0.0.1",
        "clientid": client,
        "call": "publish",
        "name": key,
        "type": "live",
        **extra,
    }


async def post_form(api: Api, path: str, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    async with api.session.post(api.base_url + path, data=form, allow_redirects=False) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def test_artist_creates_lists_edits_cancels(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(
        artist["access"],
        title="VIP night",
        price=9999,
        currency="USD",
        capacity=50,
        replay_access=True,
    )
    assert event["stream_key"].startswith("live_") and event["status"] == "scheduled"
    assert event["price"] == 9999 and event["currency"] == "USD" and event["capacity"] == 50
    # Other tests' events share the list; the largest page keeps this one on it.
    status, listed = await api.call("GET", "/api/live?limit=200")
    assert status == 200 and event["id"] in [e["id"] for e in listed["events"]]
    assert all("stream_key" not in e for e in listed["events"])
    status, edited = await api.call(
        "PATCH",
        f"/api/live/{event['id']}",
        token=artist["access"],
        json={"title": "VIP night (late)", "price": 2999},
    )
    assert status == 200 and edited["title"] == "VIP night (late)" and edited["price"] == 2999
    status, mine = await api.call("GET", "/api/live/mine", token=artist["access"])
    assert [e["id"] for e in mine["events"]] == [event["id"]]
    status, cancelled = await api.call(
        "POST", f"/api/live/{event['id']}/cancel", token=artist["access"]
    )
    assert status == 200 and cancelled["status"] == "cancelled"
    status, _body = await api.call(
        "PATCH", f"/api/live/{event['id']}", token=artist["access"], json={"title": "again"}
    )
    assert status == 409
    status, listed = await api.call("GET", "/api/live")
    assert event["id"] not in [e["id"] for e in listed["events"]]


async def test_only_artists_create_and_only_owner_edits(api: Api) -> None:
    fan = await api.register("fan")
    status, body = await api.call(
        "POST",
        "/api/live/create",
        token=fan["access"],
        json={"title": "x", "starts_at": "2030-01-01T00:00:00Z", "price": 0},
    )
    assert status == 403
    owner, other = await api.register("artist"), await api.register("artist")
    event = await api.create_event(owner["access"])
    for method, path, body in (
        ("PATCH", "", {"title": "mine now"}),
        ("POST", "/cancel", None),
        ("POST", "/stream-key", None),
    ):
        status, reply = await api.call(
            method, f"/api/live/{event['id']}{path}", token=other["access"], json=body
        )
        assert status == 403, (path, reply)


async def test_create_rejects_bad_fields(api: Api) -> None:
    artist = await api.register("artist")
    good = {"title": "Show", "starts_at": "2030-01-01T20:00:00Z", "price": 299, "currency": "EUR"}
    bad = [
        {**good, "price": 2.99},
        {**good, "price": -1},
        {**good, "price": "299"},
        {**good, "price": True},
        {**good, "currency": "euro"},
        {**good, "starts_at": "tomorrow"},
        {**good, "starts_at": "2030-01-01T20:00:00"},
        {**good, "title": ""},
        {**good, "title": "x" * 201},
        {**good, "capacity": 0},
        {**good, "replay_access": "yes"},
        {k: v for k, v in good.items() if k != "title"},
    ]
    for body in bad:
        status, reply = await api.call(
            "POST", "/api/live/create", token=artist["access"], json=body
        )
        assert status == 400 and reply["error"]["code"] == "invalid_field", (body, reply)


async def test_unknown_and_malformed_event_ids(api: Api) -> None:
    status, body = await api.call("GET", f"/api/live/{uuid.uuid4()}")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await api.call("GET", "/api/live/not-a-uuid")
    assert status == 400 and body["error"]["code"] == "invalid_id"


async def test_publish_renames_to_event_and_done_ends(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    status, _, headers = await post_form(
        api, hook(api, "publish"), publish_form(event["stream_key"])
    )
    assert status == 302 and headers["Location"] == event["id"]
    assert event["stream_key"] not in headers["Location"]
    status, live = await api.call("GET", f"/api/live/{event['id']}")
    assert live["status"] == "live" and live["publishing"] is True
    # A second publisher with the same key is refused while the first is on air.
    status, _, _ = await post_form(
        api, hook(api, "publish"), publish_form(event["stream_key"], "8")
    )
    assert status == 403
    status, _, _ = await post_form(
        api, hook(api, "publish_done"), publish_form(event["id"], call="publish_done")
    )
    assert status == 204
    status, ended = await api.call("GET", f"/api/live/{event['id']}")
    assert ended["status"] == "ended" and ended["publishing"] is False and ended["ended_at"]


async def test_concurrent_publishers_only_one_wins(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    results = await asyncio.gather(
        *(
            post_form(api, hook(api, "publish"), publish_form(event["stream_key"], str(i)))
            for i in range(20)
        )
    )
    assert sorted(r[0] for r in results) == [302] + [403] * 19


async def test_publish_refused_for_bad_key_cancelled_and_rotated(api: Api) -> None:
    artist = await api.register("artist")
    status, _, _ = await post_form(api, hook(api, "publish"), publish_form("live_wrong"))
    assert status == 403
    cancelled = await api.create_event(artist["access"])
    await api.call("POST", f"/api/live/{cancelled['id']}/cancel", token=artist["access"])
    status, _, _ = await post_form(api, hook(api, "publish"), publish_form(cancelled["stream_key"]))
    assert status == 403
    event = await api.create_event(artist["access"])
    status, rotated = await api.call(
        "POST", f"/api/live/{event['id']}/stream-key", token=artist["access"]
    )
    assert status == 200 and rotated["stream_key"] != event["stream_key"]
    status, _, _ = await post_form(api, hook(api, "publish"), publish_form(event["stream_key"]))
    assert status == 403
    status, _, _ = await post_form(api, hook(api, "publish"), publish_form(rotated["stream_key"]))
    assert status == 302


async def test_hooks_refuse_wrong_secret_and_malformed_forms(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    status, _, _ = await post_form(
        api, "/hooks/rtmp/wrong-secret/publish", publish_form(event["stream_key"])
    )
    assert status == 403
    bad_forms: list[dict[str, str]] = [
        {},
        {"name": event["stream_key"]},
        {"clientid": "1"},
        publish_form(event["stream_key"], call="play"),
        publish_form("k" * 2000),
    ]
    for form in bad_forms:
        status, body, _ = await post_form(api, hook(api, "publish"), form)
        assert status == 400, (form, body)
    async with api.session.post(api.base_url + hook(api, "publish"), json={"name": "x"}) as resp:
        assert resp.status == 400
    status, live = await api.call("GET", f"/api/live/{event['id']}")
    assert live["status"] == "scheduled"


async def test_rtmp_play_is_refused_but_hls_relay_allowed(api: Api) -> None:
    name = str(uuid.uuid4())
    viewer = publish_form(name, call="play")
    status, _, _ = await post_form(api, hook(api, "play"), viewer)
    assert status == 403
    # A viewer claiming to be the relay still has a plain socket address.
    status, _, _ = await post_form(
        api, hook(api, "play"), {**viewer, "flashver": "ngx-local-relay"}
    )
    assert status == 403
    relay = {**viewer, "app": "", "flashver": "ngx-local-relay", "addr": "127.0.0.1:1935/hls"}
    status, _, _ = await post_form(api, hook(api, "play"), relay)
    assert status == 204


async def test_publish_done_from_stale_client_is_ignored(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    await post_form(api, hook(api, "publish"), publish_form(event["stream_key"], "41"))
    await post_form(api, hook(api, "publish_done"), publish_form(event["id"], "99"))
    _status, live = await api.call("GET", f"/api/live/{event['id']}")
    assert live["status"] == "live"


async def test_moderator_can_watch_paid_event(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"], price=999)
    mod = await api.register("fan")
    token = await promote(api, mod, "moderator")
    status, grant = await api.call("POST", f"/api/live/{event['id']}/playback", token=token)
    assert status == 200 and grant["url"].endswith(f"/{event['id']}/index.m3u8")


async def test_hls_application_takes_only_accepted_streams(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    relay = {
        "app": "hls",
        "name": event["id"],
        "clientid": "3",
        "call": "publish",
        "addr": "127.0.0.1",
    }
    for name in (event["id"], event["stream_key"], "not-a-uuid"):
        status, _, _ = await post_form(api, hook(api, "relay_publish"), {**relay, "name": name})
        assert status == 403, name
    await post_form(api, hook(api, "publish"), publish_form(event["stream_key"]))
    status, _, _ = await post_form(api, hook(api, "relay_publish"), relay)
    assert status == 204


async def test_claim_left_by_a_crashed_nginx_goes_stale(api: Api, clock) -> None:  # type: ignore[no-untyped-def]
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    assert (await post_form(api, hook(api, "publish"), publish_form(event["stream_key"], "1")))[
        0
    ] == 302
    # nginx reports the publisher every 30 s; while it does, the slot stays taken.
    for _ in range(3):
        clock.advance(60)
        status, _, _ = await post_form(
            api, hook(api, "update"), publish_form(event["id"], "1", call="update_publish")
        )
        assert status == 204
        assert (await post_form(api, hook(api, "publish"), publish_form(event["stream_key"], "2")))[
            0
        ] == 403
    # nginx died: no more reports, and after 90 s OBS can come back on a fresh nginx.
    clock.advance(91)
    assert (await post_form(api, hook(api, "publish"), publish_form(event["stream_key"], "2")))[
        0
    ] == 302
    # The old client's late reports and its publish_done no longer touch the new claim.
    await post_form(api, hook(api, "publish_done"), publish_form(event["id"], "1"))
    status, live = await api.call("GET", f"/api/live/{event['id']}")
    assert live["status"] == "live" and live["publishing"]


async def test_out_of_range_and_odd_inputs_are_4xx(api: Api) -> None:
    artist = await api.register("artist")
    for starts in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        status, body = await api.call(
            "POST",
            "/api/live/create",
            token=artist["access"],
            json={"title": "x", "starts_at": starts, "price": 0},
        )
        assert status == 400 and body["error"]["code"] == "invalid_field", (starts, body)
    for limit in ("\u00b2", "9" * 5000, "-1", "abc", "0", "201"):
        status, body = await api.call("GET", f"/api/live?limit={limit}")
        assert status == 400 and body["error"]["code"] == "invalid_field", limit
    status, body = await api.call("GET", "/api/live?limit=200")
    assert status == 200 and isinstance(body["events"], list)
