"""Preferences (realm theme, notifications) and avatars: defaults, partial updates, bad input,
and images re-encoded so nothing but their pixels survives."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from server.accounts.preferences import realm_of
from server.keys import DB
from tests.conftest import Api


def _image(fmt: str, size: tuple[int, int] = (640, 480), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


async def _put_avatar(api: Api, token: str, data: bytes) -> tuple[int, Any]:
    return await api.call(
        "PUT",
        "/api/me/avatar",
        token=token,
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )


async def test_defaults_then_partial_updates(api: Api) -> None:
    user = await api.register("fan")
    status, prefs = await api.call("GET", "/api/me/preferences", token=user["access"])
    assert status == 200
    assert prefs["realm"] == "purgatorio" and prefs["avatar_url"] is None
    assert prefs["notifications"]["live_started"] is True
    assert prefs["notifications"]["email"] is False
    status, prefs = await api.call(
        "PATCH", "/api/me/preferences", token=user["access"], json={"realm": "inferno"}
    )
    assert status == 200 and prefs["realm"] == "inferno"
    status, prefs = await api.call(
        "PATCH",
        "/api/me/preferences",
        token=user["access"],
        json={"notifications": {"email": True, "new_videos": False}},
    )
    assert status == 200 and prefs["realm"] == "inferno"
    assert prefs["notifications"]["email"] is True
    assert prefs["notifications"]["new_videos"] is False
    assert prefs["notifications"]["live_started"] is True
    async with api.app[DB].acquire() as conn:
        assert await realm_of(conn, user["user"]["id"]) == "inferno"
        other = await api.register("fan")
        assert await realm_of(conn, other["user"]["id"]) == "purgatorio"


@pytest.mark.parametrize(
    "body",
    [
        {"realm": "limbo"},
        {"realm": 1},
        {"realm": None, "theme": "x"},
        {"notifications": {"email": "yes"}},
        {"notifications": {"telepathy": True}},
        {"notifications": []},
        [],
        "inferno",
    ],
)
async def test_bad_preferences_are_refused_and_nothing_changes(api: Api, body: Any) -> None:
    user = await api.register("fan")
    status, reply = await api.call("PATCH", "/api/me/preferences", token=user["access"], json=body)
    assert status == 400, (body, reply)
    _, prefs = await api.call("GET", "/api/me/preferences", token=user["access"])
    assert prefs["realm"] == "purgatorio" and prefs["notifications"]["email"] is False


async def test_preferences_need_a_login(api: Api) -> None:
    assert (await api.call("GET", "/api/me/preferences"))[0] == 401
    assert (await api.call("PATCH", "/api/me/preferences", json={"realm": "inferno"}))[0] == 401
    assert (await api.call("PUT", "/api/me/avatar", data=_image("PNG")))[0] == 401


async def test_avatar_is_resized_to_a_clean_square_png(api: Api) -> None:
    user = await api.register("fan")
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    jpeg = _image("JPEG", (800, 600), exif=exif.tobytes(), comment=b"hidden comment")
    # A polyglot: something else riding after the image's end.
    status, body = await _put_avatar(api, user["access"], jpeg + b"<script>alert(1)</script>")
    assert status == 200, body
    url = body["avatar_url"]
    status, me = await api.call("GET", "/api/auth/me", token=user["access"])
    assert me["avatar_url"] == url
    async with api.session.get(api.base_url + url) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        data = await resp.read()
    assert b"secret description" not in data and b"hidden comment" not in data
    assert b"<script>" not in data
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.size == (256, 256)
        assert not img.info.get("exif") and not img.getexif()
        assert img.getpixel((128, 128))[:3] == pytest.approx((200, 30, 30), abs=8)
    # A second upload replaces it under a new URL.
    status, body = await _put_avatar(api, user["access"], _image("PNG", (50, 300)))
    assert status == 200 and body["avatar_url"] != url


@pytest.mark.parametrize(
    "data,code",
    [
        (b"", 400),
        (b"not an image at all", 400),
        (_image("PNG")[:100], 400),
        (_image("BMP"), 400),
        (b"GIF89a" + b"\x00" * 20, 400),
        (b"\x00" * (5 * 1024 * 1024 + 1), 413),
    ],
)
async def test_bad_avatars_are_refused_and_nothing_is_stored(
    api: Api, data: bytes, code: int
) -> None:
    user = await api.register("fan")
    status, reply = await _put_avatar(api, user["access"], data)
    assert status == code, reply
    _, prefs = await api.call("GET", "/api/me/preferences", token=user["access"])
    assert prefs["avatar_url"] is None


async def test_an_image_too_large_to_decode_is_refused(api: Api) -> None:
    user = await api.register("fan")
    out = io.BytesIO()
    Image.new("1", (9_000, 9_000)).save(out, format="PNG")  # a small file of 81 Mpx
    status, reply = await _put_avatar(api, user["access"], out.getvalue())
    assert status == 400 and reply["error"]["code"] == "invalid_image", reply
