"""Uploads through the API: a good single is coded and built; bad input is refused with a
reason and leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from distribution import releases
from distribution.keys import DIST_CONFIG
from server.keys import DB
from tests.conftest import Api
from tests.distribution.conftest import form, make_audio, make_cover, metadata, settled, upload


async def _count(api: Api, artist_id: str) -> int:
    async with api.app[DB].acquire() as conn:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM distribution_releases WHERE artist_id = $1::uuid", artist_id
        )
    return n


@pytest.mark.parametrize("fmt", ["flac", "wav", "mp3"])
async def test_a_good_upload_is_coded_checked_and_built(
    api: Api, artist: dict[str, Any], media_dir: Path, fmt: str
) -> None:
    audio = make_audio(media_dir, fmt, 2.0)
    status, body = await upload(
        api, artist["token"], form(metadata(), audio, make_cover(), f"x.{fmt}")
    )
    assert status == 202, body
    assert body["isrc"].startswith("ZZ-M01-")
    assert len(body["upc"]) == 13
    done = await settled(api, artist["token"], body["id"])
    assert done["state"] == "ready", done
    assert done["title"] == "Night Drive"
    stored = api.app[DIST_CONFIG].data_dir / "releases" / body["id"]
    assert (stored / f"audio.{fmt}").read_bytes() == audio
    async with api.app[DB].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT audio FROM distribution_releases WHERE id = $1::uuid", body["id"]
        )
    info = json.loads(row["audio"]) if isinstance(row["audio"], str) else row["audio"]
    assert info["format"] == fmt and info["channels"] == 2 and info["sample_rate"] == 44100
    assert abs(info["duration_ms"] - 2000) < 60
    assert info["sha256"] == hashlib.sha256(audio).hexdigest()
    assert info["md5"] == hashlib.md5(audio).hexdigest()


def _truncated(media_dir: Path, fmt: str) -> bytes:
    whole = make_audio(media_dir, fmt, 3.0)
    return whole[: len(whole) // 2]


def _video(media_dir: Path) -> bytes:
    out = media_dir / "clip.mp4"
    if not out.exists():
        import subprocess

        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=duration=1:size=160x120",
                "-f",
                "lavfi",
                "-i",
                "sine=duration=1",
                "-shortest",
                str(out),
            ],
            check=True,
        )
    return out.read_bytes()


BAD: list[tuple[str, Any]] = [
    ("empty audio", lambda d: form(metadata(), b"", make_cover())),
    ("renamed text", lambda d: form(metadata(), b"hello, not audio\n" * 50, make_cover(), "a.mp3")),
    ("video", lambda d: form(metadata(), _video(d), make_cover(), "a.mp3")),
    ("truncated flac", lambda d: form(metadata(), _truncated(d, "flac"), make_cover())),
    ("truncated wav", lambda d: form(metadata(), _truncated(d, "wav"), make_cover(), "a.wav")),
    ("truncated mp3", lambda d: form(metadata(), _truncated(d, "mp3"), make_cover(), "a.mp3")),
    ("cover too small", lambda d: form(metadata(), make_audio(d, "flac"), make_cover(1000))),
    (
        "cover not square",
        lambda d: form(metadata(), make_audio(d, "flac"), make_cover(1400, height=1500)),
    ),
    ("cover gif", lambda d: form(metadata(), make_audio(d, "flac"), make_cover(1400, "GIF"))),
    ("cover is audio", lambda d: form(metadata(), make_audio(d, "flac"), make_audio(d, "wav"))),
    ("no title", lambda d: form(metadata(title=None), make_audio(d, "flac"), make_cover())),
    ("blank title", lambda d: form(metadata(title="  "), make_audio(d, "flac"), make_cover())),
    (
        "bad iswc",
        lambda d: form(metadata(iswc="T-034.524.680-2"), make_audio(d, "flac"), make_cover()),
    ),
    (
        "no main artist",
        lambda d: form(
            metadata(artists=[{"name": "X", "role": "Remixer"}]),
            make_audio(d, "flac"),
            make_cover(),
        ),
    ),
    (
        "bad territory",
        lambda d: form(metadata(territories=["France"]), make_audio(d, "flac"), make_cover()),
    ),
    ("metadata not json", lambda d: form("{title:", make_audio(d, "flac"), make_cover())),
    ("no audio part", lambda d: form(metadata(), None, make_cover())),
    ("no cover part", lambda d: form(metadata(), make_audio(d, "flac"), None)),
    ("no metadata part", lambda d: form(None, make_audio(d, "flac"), make_cover())),
]


@pytest.mark.parametrize(("case", "build"), BAD, ids=[c for c, _ in BAD])
async def test_bad_uploads_are_refused_and_leave_nothing(
    api: Api, artist: dict[str, Any], media_dir: Path, case: str, build: Any
) -> None:
    status, body = await upload(api, artist["token"], build(media_dir))
    assert 400 <= status < 500, (case, status, body)
    assert body["error"]["message"], body
    assert await _count(api, artist["user"]["id"]) == 0
    incoming = api.app[DIST_CONFIG].data_dir / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


async def test_a_json_body_is_refused(api: Api, artist: dict[str, Any]) -> None:
    status, body = await api.call(
        "POST", "/api/distribution/upload", token=artist["token"], json=metadata()
    )
    assert status == 400 and body["error"]["code"] == "invalid_upload"


async def test_fans_cannot_upload(api: Api, media_dir: Path) -> None:
    fan = await api.register("fan")
    status, _ = await upload(
        api, fan["access"], form(metadata(), make_audio(media_dir, "flac"), make_cover())
    )
    assert status == 403


async def test_an_upload_over_the_size_cap_is_413(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    from tests.apps import app_with

    async with app_with(api.app, {"MHC_DISTRIBUTION_MAX_UPLOAD_BYTES": "200000"}) as small:
        big = make_audio(media_dir, "wav", 3.0)  # 529 kB
        status, body = await upload(
            small, artist["token"], form(metadata(), big, make_cover(), "a.wav")
        )
        assert status == 413, body
    assert await _count(api, artist["user"]["id"]) == 0


async def test_the_pipeline_and_owner_of_a_release_for_the_status_route(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    status, body = await upload(
        api, artist["token"], form(metadata(), make_audio(media_dir, "flac"), make_cover())
    )
    assert status == 202, body
    release_id = uuid.UUID(body["id"])
    await settled(api, artist["token"], body["id"])
    async with api.app[DB].acquire() as conn:
        assert await releases.owner(conn, release_id) == uuid.UUID(artist["user"]["id"])
        assert await releases.pipeline(conn, release_id) == releases.ReleasePipeline(
            "ready", 100, None
        )
        assert await releases.owner(conn, uuid.uuid4()) is None
        assert await releases.pipeline(conn, uuid.uuid4()) is None
        owned = await releases.owners(conn, [body["isrc"].replace("-", ""), "USS1Z1412345"])
    assert list(owned) == [body["isrc"].replace("-", "")]
    assert owned[body["isrc"].replace("-", "")].release_id == release_id
