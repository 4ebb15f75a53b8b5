"""Who may watch (and chat in) an event: one decision that other packages extend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from server.accounts.tokens import Principal
from server.live.event import Event

WatchRule = Callable[[web.Application, Principal, Event], Awaitable[bool]]
# Extra rules (ticketing adds "holds a valid ticket"); any rule saying yes grants access.
WATCH_RULES = web.AppKey("watch_rules", list[WatchRule])


async def can_watch(app: web.Application, principal: Principal, event: Event) -> bool:
    """True when `principal` may watch `event` now."""
    if event.is_cancelled:
        return False
    if event.is_run_by(principal) or event.is_free:
        return True
    for rule in app.get(WATCH_RULES, []):
        if await rule(app, principal, event):
            return True
    return False
