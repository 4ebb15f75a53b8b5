"""An account's preferences (realm theme, notification settings) and its avatar.

Avatars are decoded with Pillow (off the event loop), cropped to a square, resized and
re-encoded as a fresh PNG: nothing of the upload but its pixels survives (no metadata, no
trailing bytes, no second format hiding in the file). This module owns the preference and
avatar tables.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any, Literal, cast

import asyncpg
from aiohttp import web
from PIL import Image, ImageOps, UnidentifiedImageError

from server.errors import ApiError
from server.keys import CLOCK, DB

Realm = Literal["inferno", "purgatorio", "paradiso"]
DEFAULT_REALM: Realm = "purgatorio"
NOTIFICATIONS: dict[str, bool] = {
    "live_started": True,
    "new_videos": True,
    "comment_replies": True,
    "tips_received": True,
    "email": False,
}
AVATAR_SIZE = 256
MAX_AVATAR_BYTES = 5 * 1024 * 1024
MAX_AVATAR_PIXELS = 40_000_000
_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")


async def realm_of(conn: asyncpg.Connection, account_id: uuid.UUID) -> Realm:
    """The account's realm theme (the default when it never chose one)."""
    realm = await conn.fetchval(
        "SELECT realm FROM account_preferences WHERE user_id = $1", account_id
    )
    return cast(Realm, realm or DEFAULT_REALM)


async def get(conn: asyncpg.Connection, account_id: uuid.UUID) -> dict[str, Any]:
    """The account's preferences, defaults filled in, with its avatar's URL."""
    row = await conn.fetchrow(
        "SELECT realm, notifications FROM account_preferences WHERE user_id = $1", account_id
    )
    stored = {} if row is None else row["notifications"]  # the pool decodes jsonb
    return {
        "realm": DEFAULT_REALM if row is None else row["realm"],
        "notifications": {k: bool(stored.get(k, v)) for k, v in NOTIFICATIONS.items()},
        "avatar_url": await avatar_url(conn, account_id),
    }


async def update(
    app: web.Application,
    account_id: uuid.UUID,
    realm: Realm | None,
    notifications: dict[str, bool] | None,
) -> dict[str, Any]:
    """Change what is given, keep the rest."""
    async with app[DB].acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO account_preferences (user_id, realm, notifications, updated_at)
               VALUES ($1, coalesce($2, 'purgatorio'), coalesce($3::jsonb, '{}'::jsonb), $4)
               ON CONFLICT (user_id) DO UPDATE SET
                   realm = coalesce($2, account_preferences.realm),
                   notifications = account_preferences.notifications
                       || coalesce($3::jsonb, '{}'::jsonb),
                   updated_at = $4""",
            account_id,
            realm,
            notifications,
            app[CLOCK].now(),
        )
        return await get(conn, account_id)


async def avatar_url(conn: asyncpg.Connection, account_id: uuid.UUID) -> str | None:
    """Where the account's avatar is served (the version busts caches), or None."""
    version = await conn.fetchval(
        "SELECT version FROM account_avatars WHERE user_id = $1", account_id
    )
    return None if version is None else f"/api/users/{account_id}/avatar?v={version}"


def _reencode(data: bytes) -> bytes:
    """A square PNG of the image's pixels, or ValueError saying why it is refused."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in _FORMATS:
                raise ValueError(f"the image must be {', '.join(_FORMATS)}")
            width, height = img.size
            if width * height > MAX_AVATAR_PIXELS or width < 1 or height < 1:
                raise ValueError("the image is too large")
            img.seek(0)  # the first frame of an animation
            img.load()
            # Honour the camera's orientation, then drop every bit of metadata.
            upright = ImageOps.exif_transpose(img)
            rgba = upright.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValueError("the body is not a readable image") from None
    square = ImageOps.fit(rgba, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    clean = Image.new("RGBA", square.size)
    clean.paste(square)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()


async def set_avatar(app: web.Application, account_id: uuid.UUID, data: bytes) -> str:
    """Store a new avatar; its URL."""
    if not data:
        raise ApiError(400, "invalid_image", "the body is empty: send the image")
    try:
        png = await asyncio.get_running_loop().run_in_executor(None, _reencode, data)
    except ValueError as exc:
        raise ApiError(400, "invalid_image", str(exc)) from None
    async with app[DB].acquire() as conn:
        await conn.execute(
            """INSERT INTO account_avatars (user_id, image, updated_at) VALUES ($1, $2, $3)
               ON CONFLICT (user_id) DO UPDATE SET image = $2, updated_at = $3,
                   version = account_avatars.version + 1""",
            account_id,
            png,
            app[CLOCK].now(),
        )
        url = await avatar_url(conn, account_id)
    assert url is not None
    return url


async def avatar(conn: asyncpg.Connection, account_id: uuid.UUID) -> bytes | None:
    """The stored avatar PNG."""
    data: bytes | None = await conn.fetchval(
        "SELECT image FROM account_avatars WHERE user_id = $1", account_id
    )
    return data
