"""Replays: recordings remuxed to HLS VOD when a stream ends; 7-day access with replay tickets."""

from __future__ import annotations

import dataclasses
import shutil
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import av
import pytest
import stripe
from aiohttp import web

import forensics
import media
from media import replay as media_replay
from media import replays as media_replays
from server import app as app_module
from server.clock import Clock
from server.keys import CONFIG
from server.localstack import free_port
from tests.conftest import Api
from tests.services import Services
from tests.streaming import until
from tests.ticketing.conftest import buy, make_user, paid_event, refresh_token
from ticketing.keys import TICKETING_CONFIG


def test_remux_joins_parts_without_reencoding(flv: Path, tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    name = "0b1c2d3e-0000-4000-8000-000000000001"
    shutil.copy(flv, rec / f"{name}-1700000100.flv")
    shutil.copy(flv, rec / f"{name}-1700000000.flv")
    (rec / f"{name}-1700000200.flv").write_bytes(b"")  # a publish that sent nothing
    shutil.copy(flv, rec / "0b1c2d3e-0000-4000-8000-000000000002-1700000000.flv")
    shutil.copy(flv, rec / f"{name}x-1.flv")
    found = media_replay.find_recordings(rec, name)
    assert [p.name for p in found] == [
        f"{name}-1700000000.flv",
        f"{name}-1700000100.flv",
        f"{name}-1700000200.flv",
    ]
    result = media_replay.package(found, tmp_path / "replays", name)
    assert result.parts == 2 and 5.5 < result.duration < 6.5
    playlist = (result.directory / "index.m3u8").read_text()
    assert (
        playlist.count("#EXT-X-DISCONTINUITY") == 1
        and playlist.rstrip().endswith("#EXT-X-ENDLIST")
        and "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
    )
    segments = [line for line in playlist.splitlines() if line.endswith(".ts")]
    assert len(segments) == result.segments
    with av.open(str(flv)) as src, av.open(str(result.directory / segments[0])) as seg:
        # Same codecs and parameters as recorded: copied, not re-encoded.
        assert [s.codec_context.name for s in seg.streams] == ["h264", "aac"]
        for a, b in (
            (seg.streams.video[0], src.streams.video[0]),
            (seg.streams.audio[0], src.streams.audio[0]),
        ):
            assert a.codec_context.profile == b.codec_context.profile
        assert (
            seg.streams.video[0].codec_context.width,
            seg.streams.video[0].codec_context.height,
        ) == (320, 240)
    # Packaging again replaces the replay whole.
    again = media_replay.package(found[:1], tmp_path / "replays", name)
    assert again.parts == 1 and not list((tmp_path / "replays").glob(".*"))
    with pytest.raises(media_replay.ReplayError):
        media_replay.package([rec / f"{name}-1700000200.flv"], tmp_path / "replays", name)


async def hook(api: Api, name: str, fields: dict[str, str]) -> int:
    secret = api.app[CONFIG].hook_secret
    async with api.session.post(
        f"{api.base_url}/hooks/rtmp/{secret}/{name}", data=fields, allow_redirects=False
    ) as resp:
        return resp.status


async def show(api: Api, event: dict[str, Any], recordings: list[Path], record_dir: Path) -> None:
    """Publish and end a stream the way nginx-rtmp's hooks do, leaving its recordings."""
    form = {"app": "live", "name": event["stream_key"], "clientid": "41", "call": "publish"}
    assert await hook(api, "publish", form) == 302
    record_dir.mkdir(parents=True, exist_ok=True)  # nginx makes it when it runs; here it may not
    for i, rec in enumerate(recordings):
        shutil.copy(rec, record_dir / f"{event['id']}-{int(time.time()) + i}.flv")
    assert await hook(api, "publish_done", {**form, "name": event["id"]}) == 204


async def replay_of(api: Api, user: dict[str, Any], event_id: str) -> tuple[int, Any]:
    return await api.call("GET", f"/api/replays/{event_id}", token=user["access"])


async def gate(api: Api, url: str) -> int:
    async with api.session.get(
        api.base_url + "/internal/play-auth", headers={"X-Original-URI": urlsplit(url).path}
    ) as resp:
        return resp.status


async def test_replay_for_ticket_holders_for_seven_days(
    tapi: Api, tclock: Clock, flv: Path, stripe_client: stripe.StripeClient
) -> None:
    artist, fan, stranger = (
        await make_user(tapi, "artist"),
        await make_user(tapi),
        await make_user(tapi),
    )
    event = await paid_event(tapi, artist, replay_access=True, capacity=5)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    status, err = await replay_of(tapi, fan, event["id"])
    assert status == 409 and err["error"]["code"] == "replay_not_available"
    await show(tapi, event, [flv], tapi.app[TICKETING_CONFIG].record_dir)

    async def ready() -> Any:
        status, body = await replay_of(tapi, fan, event["id"])
        return body if status == 200 else None

    body = await until(ready, 20, "the replay to be packaged")

    grant = body["playback"]
    assert urlsplit(grant["url"]).path == f"/replay/{grant['token']}/{event['id']}/index.m3u8"
    assert body["replay"]["segments"] >= 1 and body["available_until"]
    replay_dir = tapi.app[CONFIG].replay_dir / event["id"]
    assert (replay_dir / "index.m3u8").read_text().startswith("#EXTM3U")
    assert await gate(tapi, grant["url"]) == 200
    assert await gate(tapi, grant["url"].replace("index.m3u8", "p0_00000.ts")) == 200
    # A live-playback token does not open the replay.
    status, live = await tapi.call(
        "POST", f"/api/live/{event['id']}/playback", token=artist["access"]
    )
    assert status == 200
    live_on_replay = f"/replay/{live['token']}/{event['id']}/index.m3u8"
    assert await gate(tapi, live_on_replay) == 403
    # A new grant moves the ticket's replay session (one per ticket).
    status, again = await replay_of(tapi, fan, event["id"])
    assert await gate(tapi, again["playback"]["url"]) == 200
    assert await gate(tapi, grant["url"]) == 403

    status, err = await replay_of(tapi, stranger, event["id"])
    assert status == 403 and err["error"]["code"] == "no_ticket"

    tclock.advance(7 * 24 * 3600 - 60)
    status, _ = await replay_of(tapi, refresh_token(tapi, fan), event["id"])
    assert status == 200
    tclock.advance(61)
    status, err = await replay_of(tapi, refresh_token(tapi, fan), event["id"])
    assert status == 403 and err["error"]["code"] == "replay_expired"
    status, _ = await replay_of(tapi, refresh_token(tapi, artist), event["id"])
    assert status == 200, "the artist keeps access to the replay"
    assert ticket["replay_access"] is True


async def test_no_replay_without_replay_access_or_recording(
    tapi: Api, flv: Path, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    record_dir = tapi.app[TICKETING_CONFIG].record_dir
    plain = await paid_event(tapi, artist, replay_access=False)
    await buy(tapi, stripe_client, fan, plain["id"])
    await show(tapi, plain, [flv], record_dir)
    status, err = await replay_of(tapi, fan, plain["id"])
    assert status == 403 and err["error"]["code"] == "no_replay_access"

    unrecorded = await paid_event(tapi, artist, replay_access=True)
    ticket = await buy(tapi, stripe_client, fan, unrecorded["id"])
    await show(tapi, unrecorded, [], record_dir)

    async def settled() -> Any:
        _, body = await replay_of(tapi, fan, unrecorded["id"])
        return body if body["error"]["code"] != "replay_not_ready" else None

    err = await until(settled, 10, "the replay state to settle")
    assert err["error"]["code"] == "replay_unavailable"
    status, _ = await tapi.call(
        "POST", f"/api/tickets/{ticket['id']}/refund", token=artist["access"]
    )
    status, err = await replay_of(tapi, fan, unrecorded["id"])
    assert status == 403 and err["error"]["code"] == "no_ticket"


def test_a_part_that_fails_outright_is_skipped(
    flv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    name = "0b1c2d3e-0000-4000-8000-000000000003"
    for stamp in (1700000000, 1700000100, 1700000200):
        shutil.copy(flv, rec / f"{name}-{stamp}.flv")
    broken = f"{name}-1700000100.flv"
    real = media_replay._remux

    def remux(source: Path, out_dir: Path, prefix: str, seconds: int) -> list[tuple[float, str]]:
        if source.name == broken:  # fails before its first packet is muxed
            (out_dir / f"{prefix}00000.ts").write_bytes(b"partial")
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")
        return real(source, out_dir, prefix, seconds)

    monkeypatch.setattr(media_replay, "_remux", remux)
    result = media_replay.package(media_replay.find_recordings(rec, name), tmp_path / "out", name)
    assert result.parts == 2 and 5.5 < result.duration < 6.5
    playlist = (result.directory / "index.m3u8").read_text()
    assert "p1_" not in playlist and not list(result.directory.glob("p1_*"))


async def test_a_free_event_gets_its_replay_without_ticketing(
    app_server: tuple[web.Application, str],
    services: Services,
    flv: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A deployment without ticketing: media alone packages what a stream recorded.
    monkeypatch.setattr(app_module, "PACKAGE_SETUPS", [forensics.setup, media.setup])
    record_dir = services.work_dir / "media-only-recordings"
    base = app_server[0][CONFIG]
    port = free_port()
    cfg = dataclasses.replace(
        base, port=port, record_dir=record_dir, env={**base.env, "MHC_JOBS_QUEUE": "media_only"}
    )
    app = app_module.create_app(cfg, Clock())
    assert TICKETING_CONFIG not in app
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(session, f"http://127.0.0.1:{port}", app)
            artist = await make_user(api, "artist")
            event = await api.create_event(artist["access"], price=0)
            await show(api, event, [flv], record_dir)

            async def ready() -> media_replays.ReplayState | None:
                found = media_replays.state(app, uuid.UUID(event["id"]))
                return found if found is not None and found.status == "ready" else None

            replay = await until(ready, 20, "the free event's replay to be packaged")
            assert replay.parts == 1 and replay.segments >= 1 and 2.5 < replay.duration < 3.5
            playlist = cfg.replay_dir / event["id"] / "index.m3u8"
            assert playlist.read_text().startswith("#EXTM3U")
    finally:
        await runner.cleanup()
