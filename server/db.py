"""asyncpg pool and numbered SQL migrations, each package owning its own folder of them."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from server.jobs import queue as jobs_queue

log = logging.getLogger(__name__)

# Packages whose `migrations/NNNN_name.sql` files are applied, in this order: a package's
# tables may reference only tables of packages listed before it.
MIGRATION_PACKAGES: tuple[str, ...] = (
    "server",
    "forensics",
    "ticketing",
    "ledger",
    "distribution",
    "media",
)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every process that migrates.
_MIGRATION_LOCK = 0x6D6863


@dataclass(frozen=True)
class Migration:
    """One SQL file of one package."""

    package: str
    version: int
    name: str
    sql: str


def discover() -> list[Migration]:
    """All migrations of all packages, in apply order."""
    found: list[Migration] = []
    for package in MIGRATION_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:  # not installed, or not a package yet
            continue
        folder = Path(spec.origin).parent / "migrations"
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            match = _NAME.match(entry.name)
            if match:
                found.append(Migration(package, int(match.group(1)), entry.name, entry.read_text()))
    return found


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations in one transaction each; safe to run concurrently and repeatedly."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   package text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (package, version))"""
        )
        rows = await conn.fetch("SELECT package, version FROM schema_migrations")
        done = {(r["package"], r["version"]) for r in rows}
        for m in discover():
            if (m.package, m.version) in done:
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (package, version, name) VALUES ($1, $2, $3)",
                    m.package,
                    m.version,
                    m.name,
                )
            log.info("applied migration %s/%s", m.package, m.name)
            applied_now.append(f"{m.package}/{m.name}")
        # The job queue's tables are pgqueuer's, created (or upgraded) by its own code.
        if await jobs_queue.install(conn):
            applied_now.append("pgqueuer")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now


async def pending_migrations(pool: asyncpg.Pool, package: str) -> list[str]:
    """Names of `package`'s migrations not yet applied (all of them on an empty database)."""
    done: set[int] = set()
    if await pool.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        rows = await pool.fetch("SELECT version FROM schema_migrations WHERE package = $1", package)
        done = {r["version"] for r in rows}
    return [
        f"{m.package}/{m.name}"
        for m in discover()
        if m.package == package and m.version not in done
    ]


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without a reset query.

    asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) costs a round
    trip on every release, which on a hot path like validation was a third of the queries.
    asyncpg still rolls back an open transaction and drops listener callbacks on release; the
    rule is that pooled connections leave no session state behind (session advisory locks are
    released in `finally`, cursors live inside transactions, nothing LISTENs or SETs on them).
    """

    def get_reset_query(self) -> str:
        """Nothing to reset (see the class docstring)."""
        return ""


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    """A pool whose connections decode jsonb to Python values."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        connection_class=PooledConnection,
    )
    assert pool is not None
    return pool
