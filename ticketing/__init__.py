"""Pay-per-view tickets: purchase, payments, rotating signed QR codes, validation, replay access."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server.access import WATCH_RULES
from server.keys import CONFIG, REDIS
from server.live.service import STATUS_OUTBOX
from server.ratelimit import TokenBucket
from ticketing import config, payments, refunds, routes, sweeper, validation
from ticketing.keys import RUNTIME, TICKETING_CONFIG, Runtime
from ticketing.limits import Bucket, MultiBucket

log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Validate ticketing's config and plug its routes, watch rule, outbox hook and jobs in."""
    app[TICKETING_CONFIG] = config.load(app[CONFIG])
    app.router.add_routes(routes.routes)
    app.setdefault(WATCH_RULES, []).append(validation.holds_admitted_ticket)
    app.setdefault(STATUS_OUTBOX, []).append(refunds.on_status_in_transaction)
    sweeper.setup(app)
    app.cleanup_ctx.append(_runtime)


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    cfg = app[TICKETING_CONFIG]
    provider = payments.build(app, cfg)
    if provider.name == "dev":
        log.warning("DEVELOPMENT PAYMENTS: no Stripe key is configured, so purchases complete "
                    "without charging anyone. Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET "
                    "for real sales.")
    redis = app[REDIS]
    rt = Runtime(
        provider=provider,
        purchase_limit=TokenBucket(redis, "tkt:rl:buy", cfg.purchase_burst,
                                   cfg.purchase_per_minute / 60),
        limits=MultiBucket(redis),
        validate_ip_limit=Bucket("tkt:rl:ip", cfg.validate_ip_burst,
                                 cfg.validate_ip_per_minute / 60),
        validate_ticket_limit=Bucket("tkt:rl:ticket", cfg.validate_ticket_burst,
                                     cfg.validate_ticket_per_minute / 60),
    )
    app[RUNTIME] = rt
    yield
    if rt.tasks:
        _, pending = await asyncio.wait(list(rt.tasks), timeout=30)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    await provider.close()
