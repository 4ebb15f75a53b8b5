"""Typed app keys of the ledger."""

from __future__ import annotations

from aiohttp import web

from ledger.config import LedgerConfig

LEDGER_CONFIG = web.AppKey("ledger_config", LedgerConfig)
