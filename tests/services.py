"""The real PostgreSQL and Redis the tests run against: given by env, or started privately."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from server import localstack


@dataclass(frozen=True)
class Services:
    """Connection strings of the services a test session uses."""

    database_url: str
    redis_url: str
    work_dir: Path


async def _create_database(base_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(base_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _with_db(dsn: str, name: str) -> str:
    head, _, _ = dsn.rpartition("/")
    return f"{head}/{name}"


@contextmanager
def test_services() -> Iterator[Services]:
    """A fresh database (in DATABASE_URL's server or a private cluster) and a Redis."""
    work = Path(tempfile.mkdtemp(prefix="mhc-test-"))
    work.chmod(0o755)
    started: list[localstack.Service] = []
    try:
        base = os.environ.get("DATABASE_URL")
        if not base:
            pg, base = localstack.start_postgres(work / "pg", durable=False)
            started.append(pg)
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            rd, redis_url = localstack.start_redis(work / "redis")
            started.append(rd)
        name = f"mhc_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_create_database(base, name))
        yield Services(_with_db(base, name), redis_url, work)
    finally:
        for service in reversed(started):
            service.stop()
