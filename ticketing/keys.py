"""Typed application keys of the ticketing package."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.ratelimit import Bucket, RateLimit, RateLimiter
from ticketing.admissions import Admissions
from ticketing.config import TicketingConfig
from ticketing.payments import PaymentProvider


@dataclass
class Runtime:
    """What ticketing opens at start: the payment provider, limiters, admissions and its
    tasks."""

    provider: PaymentProvider
    admissions: Admissions
    purchase_limit: Bucket
    limits: RateLimiter
    validate_ip_limit: RateLimit
    validate_ticket_limit: RateLimit
    tip_limit: Bucket
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background; it is awaited (or cancelled) when the app stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


TICKETING_CONFIG = web.AppKey("ticketing_config", TicketingConfig)
RUNTIME = web.AppKey("ticketing_runtime", Runtime)
