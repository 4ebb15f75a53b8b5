"""Typed application keys shared by the core and the domain packages."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from server.clock import Clock
from server.config import Config

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
CLOCK = web.AppKey("clock", Clock)
