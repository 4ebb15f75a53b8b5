"""Pay-per-view tickets: purchase, payments, rotating signed QR codes, validation, replay access;
fans' tips and monthly subscriptions to artists."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server.access import WATCH_RULES
from server.keys import CONFIG, DB, REDIS
from server.live.service import STATUS_OUTBOX
from server.playback.service import RENEWAL_CHECKS
from server.ratelimit import RateLimit, RateLimiter
from ticketing import (
    config,
    location,
    payments,
    refunds,
    routes,
    subscriptions,
    sweeper,
    tips,
    validation,
)
from ticketing.admissions import Admissions
from ticketing.keys import RUNTIME, TICKETING_CONFIG, Runtime

log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Validate ticketing's config and plug its routes, watch rule, outbox hook and jobs in."""
    app[TICKETING_CONFIG] = config.load(app[CONFIG])
    app.router.add_routes(routes.routes)
    app.setdefault(WATCH_RULES, []).append(validation.holds_admitted_ticket)
    app.setdefault(STATUS_OUTBOX, []).append(refunds.on_status_in_transaction)
    app.setdefault(RENEWAL_CHECKS, []).append(location.check_renewal)
    sweeper.setup(app)
    tips.setup(app)
    subscriptions.setup(app)
    app.cleanup_ctx.append(_runtime)


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    cfg = app[TICKETING_CONFIG]
    provider = payments.build(app, cfg)
    if provider.name == "dev":
        log.warning(
            "DEVELOPMENT PAYMENTS: no Stripe key is configured, so purchases complete "
            "without charging anyone. Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET "
            "for real sales."
        )
    redis = app[REDIS]
    limiter = RateLimiter(redis)
    rt = Runtime(
        provider=provider,
        admissions=Admissions(app[DB]),
        purchase_limit=limiter.bucket(
            RateLimit("ticket_purchase", cfg.purchase_burst, cfg.purchase_per_minute / 60)
        ),
        limits=limiter,
        validate_ip_limit=RateLimit(
            "ticket_validate_ip", cfg.validate_ip_burst, cfg.validate_ip_per_minute / 60
        ),
        validate_ticket_limit=RateLimit(
            "ticket_validate_ticket", cfg.validate_ticket_burst, cfg.validate_ticket_per_minute / 60
        ),
        tip_limit=limiter.bucket(RateLimit("tip_create", cfg.tip_burst, cfg.tip_per_minute / 60)),
    )
    app[RUNTIME] = rt
    yield
    if rt.tasks:
        _, pending = await asyncio.wait(list(rt.tasks), timeout=30)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    await provider.close()
