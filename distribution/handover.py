"""The hand-over to delivery (`distribution.delivery`): which stores are enabled, and the
built packages queued for them in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from aiohttp import web

from distribution import delivery
from distribution.ern import Party
from distribution.package import ReleasePackage


def recipients(app: web.Application) -> dict[str, Party]:
    """Each enabled store's code and DDEX party."""
    return {t.code: Party(t.party_id, t.name) for t in delivery.enabled_dsps(app)}


async def enqueue(
    app: web.Application, conn: asyncpg.Connection, packages: Sequence[ReleasePackage]
) -> None:
    """Queue the packages for delivery, in the caller's transaction."""
    if packages:
        await delivery.enqueue(app, conn, packages)
