"""Typed app keys of the distribution package."""

from __future__ import annotations

import asyncio

from aiohttp import web

from distribution.config import DistributionConfig

DIST_CONFIG = web.AppKey("distribution_config", DistributionConfig)
# Bounds how many uploads decode at once: decoding is CPU work in the executor.
DECODES = web.AppKey("distribution_decodes", asyncio.Semaphore)
