"""Who may watch (and chat in) an event: one decision that other packages extend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server.accounts.tokens import Principal

WatchRule = Callable[[web.Application, Principal, Any], Awaitable[bool]]
# Extra rules (ticketing adds "holds a valid ticket"); any rule saying yes grants access.
WATCH_RULES = web.AppKey("watch_rules", list[WatchRule])

STAFF_ROLES = ("moderator", "admin")


async def can_watch(app: web.Application, principal: Principal, event: Any) -> bool:
    """True when `principal` may watch `event` now."""
    if event["status"] == "cancelled":
        return False
    if event["artist_id"] == principal.user_id or principal.role in STAFF_ROLES:
        return True
    if event["price_minor"] == 0:
        return True
    for rule in app.get(WATCH_RULES, []):
        if await rule(app, principal, event):
            return True
    return False
