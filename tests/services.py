"""The real PostgreSQL and Redis the tests run against: given by env, or started privately."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from server import localstack


@dataclass(frozen=True)
class Services:
    """Connection strings of the services a test session uses."""

    database_url: str
    redis_url: str
    work_dir: Path


@contextmanager
def test_services() -> Iterator[Services]:
    """A fresh database (in DATABASE_URL's server or a private cluster) and a Redis."""
    work = Path(tempfile.mkdtemp(prefix="mhc-test-"))
    work.chmod(0o755)
    with localstack.Stack(work) as stack:
        base = stack.database_url()
        redis_url = stack.redis_url()
        yield Services(asyncio.run(localstack.fresh_database(base, "mhc_test")), redis_url, work)
