"""The three feeds, read from the feed index with keyset pagination, plus live cards.

- trending: public videos by heat (see `media.feeds.heat`), hottest first.
- following: the newest public and followers-only videos of the artists the viewer follows.
- discovery: recent videos ranked for the viewer: current heat (log) + 1.5 when the viewer
  follows the artist + 1.0 in the viewer's preferred realm + 1.0 not yet viewed. The ranking
  is anchored at the first page's time (carried in the cursor), so paging is stable.
Live events on air lead the first page of each feed as live cards (the following feed's only
those of followed artists), taking at most half of it; the on-air listing is up to
`live.ON_AIR_TTL_S` old (one process re-reads it at once after starting or ending a show).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
from aiohttp import web

from media import follows
from media.engagement.config import ENGAGE_CONFIG
from media.feeds import cursor, heat
from server.accounts import preferences
from server.accounts import service as accounts
from server.errors import bad_request
from server.keys import CLOCK, DB
from server.live import service as live
from server.wire import timestamp

Feed = Literal["discovery", "trending", "following"]
FOLLOWED_BONUS = 1.5
REALM_BONUS = 1.0
UNSEEN_BONUS = 1.0
_COLUMNS = "video_id, artist_id, title, realm, visibility, tags, duration_s, published_at, hot"


@dataclass(frozen=True)
class Page:
    """Feed items as the API shows them, and the cursor of the next page."""

    items: list[dict[str, Any]]
    next: str | None


def _video(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["video_id"]),
        "artist_id": str(row["artist_id"]),
        "title": row["title"],
        "realm": row["realm"],
        "visibility": row["visibility"],
        "tags": list(row["tags"]),
        "duration_s": row["duration_s"],
        "state": "ready",
        "ready_at": timestamp(row["published_at"]),
    }


async def _items(
    app: web.Application, conn: asyncpg.Connection, rows: list[asyncpg.Record]
) -> list[dict[str, Any]]:
    # Names up to accounts.NAMES_TTL_S old: most pages need no query for them.
    names = await accounts.recent_display_names(app, conn, list({r["artist_id"] for r in rows}))
    return [
        {
            "type": "video",
            "video": _video(r),
            "artist": {"id": str(r["artist_id"]), "display_name": names.get(r["artist_id"], "")},
        }
        for r in rows
    ]


async def _live_cards(
    app: web.Application, limit: int, artists: set[uuid.UUID] | None
) -> list[dict[str, Any]]:
    if limit <= 0:
        return []
    events = await live.on_air(app)
    chosen = [e for e in events if artists is None or e.artist_id in artists][:limit]
    return [{"type": "live", "event": e.to_json()} for e in chosen]


def _viewer(viewer: uuid.UUID | None) -> str | None:
    return None if viewer is None else str(viewer)


async def trending(
    app: web.Application, viewer: uuid.UUID | None, after: str | None, limit: int
) -> Page:
    """Public videos, hottest first."""
    key = app[ENGAGE_CONFIG].cursor_key
    # Live cards are read before taking a connection: they take one of their own.
    cards = await _live_cards(app, limit // 2, None) if after is None else []
    async with app[DB].acquire() as conn:
        if after is None:
            rows = await conn.fetch(
                f"""SELECT {_COLUMNS} FROM feed_entries WHERE visibility = 'public'
                ORDER BY hot DESC, video_id DESC LIMIT $1""",
                limit - len(cards),
            )
        else:
            at = cursor.decode(key, after, "trending", _viewer(viewer))
            hot, last = _float(at, "h"), _uuid(at, "i")
            rows = await conn.fetch(
                f"""SELECT {_COLUMNS} FROM feed_entries
                WHERE visibility = 'public' AND (hot, video_id) < ($1, $2)
                ORDER BY hot DESC, video_id DESC LIMIT $3""",
                hot,
                last,
                limit,
            )
        items = await _items(app, conn, rows)
    nxt = None
    if rows and len(rows) == limit - len(cards):
        tail = rows[-1]
        payload = {
            "f": "trending",
            "u": _viewer(viewer),
            "h": tail["hot"],
            "i": str(tail["video_id"]),
        }
        nxt = cursor.encode(key, payload)
    return Page(cards + items, nxt)


async def following(app: web.Application, viewer: uuid.UUID, after: str | None, limit: int) -> Page:
    """The newest videos of the artists the viewer follows."""
    key = app[ENGAGE_CONFIG].cursor_key
    async with app[DB].acquire() as conn:
        artists = await follows.followed_artists(conn, viewer)
    # Live cards are read holding no connection: they take one of their own.
    cards = await _live_cards(app, limit // 2, set(artists)) if after is None else []
    async with app[DB].acquire() as conn:
        if after is None:
            published, last = datetime.max.replace(tzinfo=UTC), uuid.UUID(int=(1 << 128) - 1)
        else:
            at = cursor.decode(key, after, "following", _viewer(viewer))
            published = datetime.fromtimestamp(_float(at, "t"), UTC)
            last = _uuid(at, "i")
        want = limit - len(cards)
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM feed_entries
            WHERE artist_id = ANY($1::uuid[]) AND visibility IN ('public', 'followers')
              AND (published_at, video_id) < ($2, $3)
            ORDER BY published_at DESC, video_id DESC LIMIT $4""",
            artists,
            published,
            last,
            want,
        )
        items = await _items(app, conn, rows)
    nxt = None
    if rows and len(rows) == want:
        tail = rows[-1]
        payload = {
            "f": "following",
            "u": _viewer(viewer),
            "t": tail["published_at"].timestamp(),
            "i": str(tail["video_id"]),
        }
        nxt = cursor.encode(key, payload)
    return Page(cards + items, nxt)


async def discovery(
    app: web.Application, viewer: uuid.UUID | None, after: str | None, limit: int
) -> Page:
    """Recent videos ranked for the viewer (see the module docstring)."""
    cfg = app[ENGAGE_CONFIG]
    cards: list[dict[str, Any]] = []
    score: float | None = None
    last: uuid.UUID | None = None
    if after is None:
        anchor = app[CLOCK].time()
        cards = await _live_cards(app, limit // 2, None)
    else:
        at = cursor.decode(cfg.cursor_key, after, "discovery", _viewer(viewer))
        anchor, score, last = _float(at, "a"), _float(at, "s"), _uuid(at, "i")
    anchor_at = datetime.fromtimestamp(anchor, UTC)
    want = limit - len(cards)
    async with app[DB].acquire() as conn:
        artists: list[uuid.UUID] = []
        realm: str | None = None
        if viewer is not None:
            artists = await follows.followed_artists(conn, viewer)
            realm = await preferences.realm_of(conn, viewer)
        rows = await conn.fetch(
            f"""WITH ranked AS (
                SELECT {_COLUMNS},
                    (hot - $1)
                    + CASE WHEN artist_id = ANY($2::uuid[]) THEN {FOLLOWED_BONUS} ELSE 0 END
                    + CASE WHEN realm = $3 THEN {REALM_BONUS} ELSE 0 END
                    + CASE WHEN $4::uuid IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM feed_seen s
                        WHERE s.account_id = $4 AND s.video_id = f.video_id AND s.seen_at < $6)
                      THEN {UNSEEN_BONUS} ELSE 0 END AS score
                FROM feed_entries f
                WHERE published_at > $5 AND published_at <= $6
                  AND (visibility = 'public'
                       OR (visibility = 'followers' AND artist_id = ANY($2::uuid[]))))
            SELECT * FROM ranked
            WHERE $7::float8 IS NULL OR (score, video_id) < ($7, $8)
            ORDER BY score DESC, video_id DESC LIMIT $9""",
            (anchor_at - heat.T0).total_seconds() / heat.TAU,
            artists,
            realm,
            viewer,
            anchor_at - timedelta(days=cfg.discovery_days),
            anchor_at,
            score,
            last,
            want,
        )
        items = await _items(app, conn, rows)
    nxt = None
    if rows and len(rows) == want:
        tail = rows[-1]
        payload = {
            "f": "discovery",
            "u": _viewer(viewer),
            "a": anchor,
            "s": tail["score"],
            "i": str(tail["video_id"]),
        }
        nxt = cursor.encode(cfg.cursor_key, payload)
    return Page(cards + items, nxt)


def _float(payload: dict[str, Any], name: str) -> float:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request("cursor is invalid", "invalid_cursor")
    return float(value)


def _uuid(payload: dict[str, Any], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(payload.get(name)))
    except ValueError:
        raise bad_request("cursor is invalid", "invalid_cursor") from None
