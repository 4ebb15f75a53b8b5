"""Sales per event, with the revenue split, for the event's artist."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from server.accounts.tokens import Principal
from server.keys import DB
from server.live.service import ensure_owner, get_event
from server.wire import timestamp, timestamp_or_none
from ticketing import split, store


async def event_sales(
    app: web.Application, principal: Principal, event_id: uuid.UUID, limit: int = 1000
) -> dict[str, Any]:
    """Totals per currency (refunded sales excluded from sums) and the sales themselves."""
    event = await get_event(app, event_id)
    ensure_owner(principal, event)
    async with app[DB].acquire() as conn:
        totals = await store.sales_totals(conn, event_id)
        rows = await store.sales(conn, event_id, limit)
        attended = await store.attendance(conn, event_id)
        held = await store.held(conn, event_id)
    return {
        "event_id": str(event_id),
        "capacity": event.capacity,
        "seats_held": held,
        "attended": attended,
        "split_rule": {
            "artist_bps": split.ARTIST_BPS,
            "platform_bps": split.PLATFORM_BPS,
            "processing_bps": split.PROCESSING_BPS,
            "remainder": "artist",
            "rule": split.RULE,
        },
        "totals": [
            {
                "currency": t["currency"].strip(),
                "sold": t["sold"],
                "refunded": t["refunded"],
                "gross": t["gross"],
                "artist": t["artist"],
                "platform": t["platform"],
                "processing": t["processing"],
            }
            for t in totals
        ],
        "sales": [
            {
                "ticket_id": str(r["ticket_id"]),
                "price": r["price_minor"],
                "currency": r["currency"].strip(),
                "artist": r["artist_minor"],
                "platform": r["platform_minor"],
                "processing": r["processing_minor"],
                "refunded_at": timestamp_or_none(r["refunded_at"]),
                "sold_at": timestamp(r["created_at"]),
            }
            for r in rows
        ],
    }
