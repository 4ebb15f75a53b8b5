"""The hand-over to delivery (`distribution.delivery`): which stores are enabled, and the
built packages queued for them in the caller's transaction."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

import asyncpg
from aiohttp import web

from distribution.ern import Party
from distribution.package import ReleasePackage


def _delivery() -> ModuleType | None:
    try:
        return importlib.import_module("distribution.delivery")
    except ModuleNotFoundError:
        return None


def recipients(app: web.Application) -> dict[str, Party]:
    """Each enabled store's code and DDEX party (none when delivery is not installed)."""
    delivery = _delivery()
    if delivery is None:
        return {}
    return {t.code: Party(t.party_id, t.name) for t in delivery.enabled_dsps(app)}


async def enqueue(
    app: web.Application, conn: asyncpg.Connection, packages: Sequence[ReleasePackage]
) -> None:
    """Queue the packages for delivery, in the caller's transaction."""
    delivery = _delivery()
    if delivery is not None and packages:
        await delivery.enqueue(app, conn, packages)
