"""tus 1.0 uploads: a real client (tuspy) resuming after being killed, and every refusal."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from media.videos.processing import VIDEO_CONFIG, expire_uploads
from tests.conftest import Api
from tests.streaming import until
from tests.videos import clip, create_upload, metadata, patch, settled

ROOT = Path(__file__).resolve().parents[2]
TUS = {"Tus-Resumable": "1.0.0"}


async def _head(api: Api, token: str, location: str) -> tuple[int, Any]:
    headers = {**TUS, "Authorization": f"Bearer {token}"}
    async with api.session.head(api.base_url + location, headers=headers) as resp:
        return resp.status, resp.headers


async def _offset(api: Api, token: str, location: str) -> int:
    status, headers = await _head(api, token, location)
    assert status == 200, status
    return int(headers["Upload-Offset"])


async def test_options_advertise_the_protocol(api: Api) -> None:
    async with api.session.options(api.base_url + "/api/videos/uploads") as resp:
        assert resp.status == 204
        assert resp.headers["Tus-Version"] == "1.0.0"
        assert set(resp.headers["Tus-Extension"].split(",")) == {
            "creation",
            "termination",
            "expiration",
        }
        assert int(resp.headers["Tus-Max-Size"]) == api.app[VIDEO_CONFIG].max_upload_bytes


async def _client(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.media.tus_client",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_tuspy_resumes_an_upload_after_its_process_is_killed(
    api: Api, tmp_path: Path
) -> None:
    artist = await api.register("artist")
    data = await clip(4)
    source = tmp_path / "phone.mp4"
    source.write_bytes(data)
    chunk = 16 * 1024
    endpoint = api.base_url + "/api/videos/uploads"
    first = await _client(endpoint, artist["access"], str(source), str(chunk))
    assert first.stdout is not None
    url, offset = "", 0
    while offset < 3 * chunk:  # let a few chunks land, then kill the client outright
        line = (await asyncio.wait_for(first.stdout.readline(), 30)).decode().split()
        assert line, (await first.stderr.read()).decode() if first.stderr else ""
        url, offset = line[0], int(line[1])
    first.send_signal(signal.SIGKILL)
    await first.wait()
    location = urlsplit(url).path
    stored = await _offset(api, artist["access"], location)
    assert 3 * chunk <= stored < len(data)
    status, _body = await api.call("GET", "/api/videos/" + (await _video_id(api, location)))
    assert status == 404  # still uploading: nobody but the artist sees it

    second = await _client(endpoint, artist["access"], str(source), str(chunk), url)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, err.decode()
    offsets = [int(line.split()[1]) for line in out.decode().splitlines()]
    assert offsets[0] == stored, "the new process resumed where the killed one stopped"
    assert offsets[-1] == len(data)
    video = await settled(api, artist["access"], await _video_id(api, location))
    assert video["state"] == "ready" and video["title"] == "Resumed", video
    assert video["duration_s"] == pytest.approx(4.0, abs=0.2)


async def _video_id(api: Api, location: str) -> str:
    from media.videos import store
    from server.keys import DB

    async with api.app[DB].acquire() as conn:
        upload = await store.upload(conn, uuid.UUID(location.rsplit("/", 1)[1]))
    assert upload is not None
    return str(upload.video_id)


async def test_a_patch_cut_off_mid_body_keeps_what_arrived(api: Api) -> None:
    artist = await api.register("artist")
    data = await clip()
    status, created, _ = await create_upload(api, artist["access"], len(data))
    assert status == 201
    location = created["Location"]
    host, port = urlsplit(api.base_url).hostname, urlsplit(api.base_url).port
    _reader, writer = await asyncio.open_connection(host, port)
    half = len(data) // 2
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Bearer {artist['access']}\r\nUpload-Offset: 0\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data[:half])
    await writer.drain()

    async def landed() -> bool:
        return await _offset(api, artist["access"], location) == half

    # While the connection is open the bytes are written but not yet recorded; the phone
    # then loses its network.
    await asyncio.sleep(0.2)
    writer.transport.abort()
    await until(landed, 10, "the bytes that arrived to be recorded")
    status, _headers, body = await patch(api, artist["access"], location, half, data[half:])
    assert status == 204, body
    video = await settled(api, artist["access"], created["Video-Id"])
    assert video["state"] == "ready", video


async def test_two_patches_at_once_cannot_both_write(api: Api) -> None:
    artist = await api.register("artist")
    data = await clip()
    _status, created, _ = await create_upload(api, artist["access"], len(data))
    location = created["Location"]
    replies = await asyncio.gather(
        *(patch(api, artist["access"], location, 0, data[:1000]) for _ in range(8))
    )
    statuses = sorted(r[0] for r in replies)
    assert statuses == [204] + [409] * 7, statuses
    assert await _offset(api, artist["access"], location) == 1000


async def _fresh(api: Api, token: str) -> str:
    status, created, body = await create_upload(api, token, 5000)
    assert status == 201, body
    status, _headers, body = await patch(api, token, created["Location"], 0, b"x" * 1000)
    assert status == 204, body
    return str(created["Location"])


@pytest.mark.parametrize(
    ("offset", "body", "extra", "status", "code"),
    [
        (0, b"y" * 10, {}, 409, "offset_mismatch"),
        (999, b"y" * 10, {}, 409, "offset_mismatch"),
        (1001, b"y" * 10, {}, 409, "offset_mismatch"),
        (1000, b"y" * 4001, {}, 413, "too_large"),
        (
            1000,
            b"y" * 10,
            {"Content-Type": "application/octet-stream"},
            415,
            "unsupported_media_type",
        ),
        (1000, b"y" * 10, {"Tus-Resumable": "0.2.2"}, 412, "tus_version"),
        (1000, b"y" * 10, {"Upload-Offset": "-1"}, 400, "invalid_header"),
        (1000, b"y" * 10, {"Upload-Offset": "1e3"}, 400, "invalid_header"),
    ],
    ids=[
        "offset-0",
        "behind",
        "ahead",
        "past-length",
        "content-type",
        "version",
        "negative",
        "float",
    ],
)
async def test_bad_patches_are_refused_and_change_nothing(
    api: Api, offset: int, body: bytes, extra: dict[str, str], status: int, code: str
) -> None:
    artist = await api.register("artist")
    location = await _fresh(api, artist["access"])
    got, headers, reply = await patch(api, artist["access"], location, offset, body, **extra)
    assert (got, reply["error"]["code"]) == (status, code), reply
    assert headers["Tus-Resumable"] == "1.0.0"
    assert await _offset(api, artist["access"], location) == 1000


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Upload-Length": str(2**45)}, 413, "too_large"),
        ({"Upload-Length": "0"}, 400, "invalid_header"),
        ({"Upload-Length": "ten"}, 400, "invalid_header"),
        ({"Upload-Length": None}, 400, "invalid_header"),
        ({"Tus-Resumable": None}, 400, "invalid_header"),
        ({"Tus-Resumable": "0.2.2"}, 412, "tus_version"),
        ({"Upload-Metadata": "filename !!!"}, 400, "invalid_metadata"),
        ({"Upload-Metadata": metadata(filename="a.mp4", realm="limbo")}, 400, "invalid_metadata"),
        (
            {"Upload-Metadata": metadata(filename="a.mp4", visibility="all")},
            400,
            "invalid_metadata",
        ),
        ({"Upload-Metadata": metadata(title="bad\x07bell")}, 400, "invalid_metadata"),
        ({"Authorization": None}, 401, "unauthorized"),
    ],
    ids=[
        "over-cap",
        "zero",
        "not-number",
        "no-length",
        "no-version",
        "old-version",
        "bad-meta",
        "realm",
        "visibility",
        "control-char",
        "anonymous",
    ],
)
async def test_bad_creations_are_refused_and_create_nothing(
    api: Api, headers: dict[str, str | None], status: int, code: str
) -> None:
    artist = await api.register("artist")
    sent = {
        **TUS,
        "Upload-Length": "100",
        "Upload-Metadata": metadata(filename="a.mp4"),
        "Authorization": f"Bearer {artist['access']}",
        **headers,
    }
    before = sorted(os.listdir(api.app[VIDEO_CONFIG].uploads_dir))
    async with api.session.post(
        api.base_url + "/api/videos/uploads",
        headers={k: v for k, v in sent.items() if v is not None},
    ) as resp:
        reply = await resp.json()
        assert (resp.status, reply["error"]["code"]) == (status, code), reply
    assert sorted(os.listdir(api.app[VIDEO_CONFIG].uploads_dir)) == before
    listing = await api.call(
        "GET", f"/api/artists/{artist['user']['id']}/videos", token=artist["access"]
    )
    assert listing[1]["items"] == []


async def test_only_artists_upload_and_only_their_own(api: Api) -> None:
    fan = await api.register("fan")
    status, _, body = await create_upload(api, fan["access"], 100)
    assert status == 403, body
    artist, other = await api.register("artist"), await api.register("artist")
    location = await _fresh(api, artist["access"])
    for_other = await patch(api, other["access"], location, 1000, b"z")
    assert for_other[0] == 404 and for_other[2]["error"]["code"] == "upload_not_found"
    assert (await _head(api, other["access"], location))[0] == 404
    assert await _offset(api, artist["access"], location) == 1000


async def test_file_names_are_the_servers_never_the_clients(api: Api) -> None:
    artist = await api.register("artist")
    uploads = api.app[VIDEO_CONFIG].uploads_dir
    status, created, _ = await create_upload(
        api, artist["access"], 10, **{"filename": "../../../../escape.mp4"}
    )
    assert status == 201
    await patch(api, artist["access"], created["Location"], 0, b"0123456789")
    for root in (uploads.parent, uploads.parent.parent, Path("/")):
        assert not (root / "escape.mp4").exists()
    for name in os.listdir(uploads):
        uuid.UUID(name)  # every stored file is named by an upload id


async def test_termination_removes_the_upload_and_its_video(api: Api) -> None:
    artist = await api.register("artist")
    location = await _fresh(api, artist["access"])
    video_id = await _video_id(api, location)
    path = api.app[VIDEO_CONFIG].uploads_dir / location.rsplit("/", 1)[1]
    assert path.stat().st_size == 1000
    headers = {**TUS, "Authorization": f"Bearer {artist['access']}"}
    async with api.session.delete(api.base_url + location, headers=headers) as resp:
        assert resp.status == 204
    assert (await _head(api, artist["access"], location))[0] == 404
    status, _ = await api.call("GET", f"/api/videos/{video_id}", token=artist["access"])
    assert status == 404

    async def removed() -> bool:
        return not path.exists()

    await until(removed, 15, "the upload's file to be removed")


async def test_abandoned_uploads_expire(api: Api) -> None:
    artist = await api.register("artist")
    location = await _fresh(api, artist["access"])
    video_id = await _video_id(api, location)
    path = api.app[VIDEO_CONFIG].uploads_dir / location.rsplit("/", 1)[1]
    status, headers = await _head(api, artist["access"], location)
    assert status == 200 and "Upload-Expires" in headers
    assert (
        await expire_uploads(api.app, 3600) == 0
        or (await _head(api, artist["access"], location))[0] == 200
    )
    assert await expire_uploads(api.app, 0) >= 1
    assert (await _head(api, artist["access"], location))[0] == 404
    assert (await api.call("GET", f"/api/videos/{video_id}", token=artist["access"]))[0] == 404

    async def removed() -> bool:
        return not path.exists()

    await until(removed, 15, "the expired upload's file to be removed")


async def test_a_streamed_body_that_overruns_the_upload_is_refused_whole(api: Api) -> None:
    artist = await api.register("artist")
    location = await _fresh(api, artist["access"])

    async def body() -> AsyncIterator[bytes]:
        for _ in range(5):  # chunked: no Content-Length to refuse it up front
            yield b"z" * 1000
            await asyncio.sleep(0.01)

    status, _, reply = await patch(api, artist["access"], location, 1000, body())  # type: ignore[arg-type]
    assert status == 413 and reply["error"]["code"] == "too_large", reply
    assert await _offset(api, artist["access"], location) == 1000
    assert (api.app[VIDEO_CONFIG].uploads_dir / location.rsplit("/", 1)[1]).stat().st_size == 1000
