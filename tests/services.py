"""The real PostgreSQL and Redis the tests run against: given by env, or started privately."""

from __future__ import annotations

import asyncio
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
    with localstack.Stack(work) as stack:
        base = stack.database_url()
        redis_url = stack.redis_url()
        name = f"mhc_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_create_database(base, name))
        yield Services(_with_db(base, name), redis_url, work)
