"""Metadata by the owning artist, the artist's list (keyset pages), and the public reads."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

import media.videos as videos
from server.errors import ApiError
from server.keys import DB
from tests.conftest import Api, admin_token
from tests.videos import create_upload, ready_video


async def test_the_artist_edits_their_video(api: Api) -> None:
    artist = await api.register("artist")
    video = await ready_video(api, artist["access"], title="Before")
    edit = {
        "title": "  After  ",
        "description": "Line one\nline two",
        "tags": ["Organ", "organ", "night"],
        "realm": "inferno",
        "visibility": "followers",
    }
    status, body = await api.call(
        "PATCH", f"/api/videos/{video['id']}", token=artist["access"], json=edit
    )
    assert status == 200, body
    assert (body["title"], body["description"], body["tags"]) == (
        "After",
        "Line one\nline two",
        ["organ", "night"],
    )
    assert (body["realm"], body["visibility"], body["state"]) == ("inferno", "followers", "ready")
    status, again = await api.call("GET", f"/api/videos/{video['id']}", token=artist["access"])
    assert again == body
    async with api.app[DB].acquire() as conn:
        typed = await videos.get(conn, uuid.UUID(video["id"]))
    assert typed is not None and typed.tags == ("organ", "night") and typed.realm == "inferno"


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"title": 5},
        {"realm": "limbo"},
        {"visibility": "everyone"},
        {"tags": ["a"] * 21},
        {"tags": ["\x00"]},
        {"owner": "me"},
    ],
    ids=["empty", "long", "number", "realm", "visibility", "many-tags", "control", "unknown"],
)
async def test_bad_edits_are_refused_and_change_nothing(api: Api, body: dict[str, object]) -> None:
    artist = await api.register("artist")
    status, created, _ = await create_upload(api, artist["access"], 100, title="Kept")
    video_id = created["Video-Id"]
    status, reply = await api.call(
        "PATCH", f"/api/videos/{video_id}", token=artist["access"], json=body
    )
    assert status == 400, reply
    status, video = await api.call("GET", f"/api/videos/{video_id}", token=artist["access"])
    assert (
        video["title"] == "Kept"
        and video["realm"] == "purgatorio"
        and video["visibility"] == "public"
    )


async def test_nobody_else_edits_or_deletes(api: Api) -> None:
    artist = await api.register("artist")
    _, created, _ = await create_upload(api, artist["access"], 100, title="Mine")
    video_id = created["Video-Id"]
    for intruder in (
        (await api.register("artist"))["access"],
        (await api.register("fan"))["access"],
    ):
        status, body = await api.call(
            "PATCH", f"/api/videos/{video_id}", token=intruder, json={"title": "Theirs"}
        )
        assert status == 404 and body["error"]["code"] == "video_not_found"
        status, body = await api.call("DELETE", f"/api/videos/{video_id}", token=intruder)
        assert status == 404
    assert (await api.call("PATCH", f"/api/videos/{video_id}", json={"title": "x"}))[0] == 401
    status, video = await api.call("GET", f"/api/videos/{video_id}", token=artist["access"])
    assert video["title"] == "Mine"
    # An admin may.
    status, video = await api.call(
        "PATCH",
        f"/api/videos/{video_id}",
        token=await admin_token(api),
        json={"title": "Moderated"},
    )
    assert status == 200 and video["title"] == "Moderated"


@pytest.mark.parametrize(
    "path", ["/api/videos/{id}", "/api/videos/{id}/playback", "/api/videos/{id}/poster"]
)
async def test_unknown_ids_are_404_and_malformed_ones_400(api: Api, path: str) -> None:
    method = "POST" if path.endswith("playback") else "GET"
    status, body = await api.call(method, path.format(id=uuid.uuid4()))
    assert status == 404 and body["error"]["code"] == "video_not_found"
    status, body = await api.call(method, path.format(id="not-a-uuid"))
    assert status == 400 and body["error"]["code"] == "invalid_id"


async def test_the_artist_list_pages_by_keyset_and_shows_fans_only_what_they_may_see(
    api: Api,
) -> None:
    artist = await api.register("artist")
    token = artist["access"]
    made = []
    for i in range(5):
        _, created, _ = await create_upload(api, token, 100, title=f"v{i}")
        made.append(created["Video-Id"])
    public = await ready_video(api, token, title="public")
    private = await ready_video(api, token, title="private", visibility="private")
    path = f"/api/artists/{artist['user']['id']}/videos"

    seen, cursor = [], None
    while True:
        status, page = await api.call(
            "GET", path + "?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=token
        )
        assert status == 200, page
        assert len(page["items"]) <= 2
        seen += [v["id"] for v in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [private["id"], public["id"], *reversed(made)]  # newest first, each once

    fan = await api.register("fan")
    for who in (None, fan["access"]):
        status, page = await api.call("GET", path, token=who)
        assert [v["id"] for v in page["items"]] == [public["id"]] and page["next"] is None
    async with api.app[DB].acquire() as conn:
        listed = await videos.by_artist(
            conn, uuid.UUID(artist["user"]["id"]), None, limit=10, before=None
        )
        assert [str(v.id) for v in listed] == [public["id"]]
        newest = await videos.by_artist(
            conn,
            uuid.UUID(artist["user"]["id"]),
            uuid.UUID(artist["user"]["id"]),
            limit=10,
            before=(datetime.now(UTC), uuid.UUID(int=0)),
        )
        assert len(newest) == 7
        with pytest.raises(ApiError) as refused:
            await videos.viewable(conn, uuid.UUID(private["id"]), uuid.UUID(fan["user"]["id"]))
        assert refused.value.status == 404


async def test_tampered_cursors_are_refused(api: Api) -> None:
    artist = await api.register("artist")
    for _ in range(3):
        await create_upload(api, artist["access"], 100)
    path = f"/api/artists/{artist['user']['id']}/videos"
    _, page = await api.call("GET", path + "?limit=1", token=artist["access"])
    good = page["next"]
    raw = base64.urlsafe_b64decode(good + "=" * (-len(good) % 4))
    flipped = (
        base64.urlsafe_b64encode(raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:]).rstrip(b"=").decode()
    )
    for bad in (flipped, "garbage", "A" * 40, good[:-2]):
        status, body = await api.call("GET", f"{path}?cursor={bad}", token=artist["access"])
        assert status == 400 and body["error"]["code"] == "invalid_cursor", (bad, body)
    for bad_limit in ("0", "51", "-1", "x"):
        status, body = await api.call("GET", f"{path}?limit={bad_limit}")
        assert status == 400, body
