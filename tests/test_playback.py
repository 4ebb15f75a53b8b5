"""Playback grants and the gate nginx asks (called here the way nginx calls it)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from server.keys import CONFIG
from server.playback import tokens
from tests.conftest import Api


async def gate(api: Api, uri: str) -> int:
    async with api.session.get(
        api.base_url + "/internal/play-auth", headers={"X-Original-URI": uri}
    ) as resp:
        return resp.status


def play_path(url: str) -> str:
    return urlsplit(url).path


async def free_event_grant(
    api: Api,
) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    fan = await api.register("fan")
    status, grant = await api.call("POST", f"/api/live/{event['id']}/playback", token=fan["access"])
    assert status == 200, grant
    return fan, event, grant


async def test_grant_allows_playlist_and_segments(api: Api) -> None:
    _, event, grant = await free_event_grant(api)
    path = play_path(str(grant["url"]))
    assert path == f"/play/{grant['token']}/{event['id']}/index.m3u8"
    assert await gate(api, path) == 200
    assert await gate(api, path.replace("index.m3u8", "17.ts")) == 200
    assert await gate(api, path + "?v=1") == 200


async def test_gate_denies_wrong_event_tampered_and_malformed(api: Api) -> None:
    _, event, grant = await free_event_grant(api)
    token = str(grant["token"])
    tampered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for uri in (
        f"/play/{token}/{uuid.uuid4()}/index.m3u8",  # token for A used on B
        f"/play/{tampered}/{event['id']}/index.m3u8",
        f"/play/{token[:-2]}/{event['id']}/index.m3u8",
        f"/play/{token}/{event['id']}/../../etc/passwd",
        f"/play/{token}/{event['id']}/index.txt",
        f"/play/{token}/{event['id']}",
        "/play/",
        "",
        "garbage",
    ):
        assert await gate(api, uri) == 403, uri


async def test_paid_event_needs_access(api: Api) -> None:
    artist = await api.register("artist")
    event = await api.create_event(artist["access"], price=299)
    fan = await api.register("fan")
    status, body = await api.call("POST", f"/api/live/{event['id']}/playback", token=fan["access"])
    assert status == 403 and body["error"]["code"] == "no_access"
    status, _grant = await api.call(
        "POST", f"/api/live/{event['id']}/playback", token=artist["access"]
    )
    assert status == 200
    status, body = await api.call("POST", f"/api/live/{event['id']}/playback")
    assert status == 401


async def test_expired_token_denied_and_renewal_keeps_session(api: Api, clock) -> None:  # type: ignore[no-untyped-def]
    fan, event, grant = await free_event_grant(api)
    clock.advance(api.app[CONFIG].playback_ttl + 1)
    assert await gate(api, play_path(str(grant["url"]))) == 403
    status, renewed = await api.call(
        "POST",
        f"/api/live/{event['id']}/playback",
        token=fan["access"],
        json={"session_id": grant["session_id"]},
    )
    assert status == 200, renewed
    assert renewed["session_id"] == grant["session_id"] and renewed["token"] != grant["token"]
    assert await gate(api, play_path(renewed["url"])) == 200


async def test_revoked_session_denied_and_not_renewable(api: Api) -> None:
    fan, event, grant = await free_event_grant(api)
    other = await api.register("fan")
    status, _ = await api.call(
        "DELETE", f"/api/playback/{grant['session_id']}", token=other["access"]
    )
    assert status == 403
    status, body = await api.call(
        "DELETE", f"/api/playback/{grant['session_id']}", token=fan["access"]
    )
    assert status == 200 and body["revoked"] == [grant["session_id"]]
    assert await gate(api, play_path(str(grant["url"]))) == 403
    status, body = await api.call(
        "POST",
        f"/api/live/{event['id']}/playback",
        token=fan["access"],
        json={"session_id": grant["session_id"]},
    )
    assert status == 403 and body["error"]["code"] == "session_revoked"


async def test_renewal_of_someone_elses_session_is_refused(api: Api) -> None:
    _, event, grant = await free_event_grant(api)
    thief = await api.register("fan")
    status, _ = await api.call(
        "POST",
        f"/api/live/{event['id']}/playback",
        token=thief["access"],
        json={"session_id": grant["session_id"]},
    )
    assert status == 404


def test_token_roundtrip_and_tamper_table() -> None:
    key = b"k" * 32
    claims = tokens.PlaybackClaims(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 2_000_000_000)
    token = tokens.sign(key, claims)
    assert tokens.verify(key, token, 1_999_999_999) == claims
    for i in range(len(token)):
        flipped = token[:i] + ("B" if token[i] == "A" else "A") + token[i + 1 :]
        try:
            tokens.verify(key, flipped, 0)
        except tokens.TokenRejected:
            continue
        # Base64 padding bits can differ without changing the bytes; the claims must not.
        assert tokens.verify(key, flipped, 0) == claims
    for bad_key, now, reason in ((b"x" * 32, 0, "bad_signature"), (key, 2_000_000_000, "expired")):
        try:
            tokens.verify(bad_key, token, now)
            raise AssertionError("accepted")
        except tokens.TokenRejected as exc:
            assert str(exc) == reason
