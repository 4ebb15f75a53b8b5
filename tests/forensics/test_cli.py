"""`mhc forensics …` as an operator's cron runs it: a tool with no side effects beyond the log."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from forensics.checkpoint import generate_key_file
from forensics.writer import LogWriter
from server import db
from server.clock import Clock
from server.localstack import fresh_database
from tests.services import Services

SECRETS = {n: "s" * 40 for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")}


async def mhc(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `mhc` with only the given settings: no REDIS_URL unless a test passes one."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("MHC_", "DATABASE_", "REDIS_"))
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **SECRETS, **env},
        timeout=120,
        check=False,
    )


async def expired_hold(conn: asyncpg.Connection) -> uuid.UUID:
    """A seat hold whose time ran out 10 minutes ago, as a crashed sweeper would leave it."""
    artist, fan, event, ticket = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for user, role in ((artist, "artist"), (fan, "fan")):
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, display_name, role) "
            "VALUES ($1, $2, 'x', 'x', $3)",
            user,
            f"{user}@example.test",
            role,
        )
    await conn.execute(
        "INSERT INTO live_events (id, artist_id, title, starts_at, price_minor, "
        "currency, capacity, stream_key_hash) VALUES ($1, $2, 'show', "
        "now() + interval '1 day', 1500, 'EUR', 10, $3)",
        event,
        artist,
        uuid.uuid4().bytes,
    )
    await conn.execute("INSERT INTO ticket_stock (event_id, held) VALUES ($1, 1)", event)
    await conn.execute(
        "INSERT INTO tickets (id, event_id, user_id, status, amount_minor, "
        "currency, replay_access, provider, reserved_until) VALUES ($1, $2, $3, "
        "'reserved', 1500, 'EUR', false, 'dev', $4)",
        ticket,
        event,
        fan,
        Clock().now() - timedelta(minutes=10),
    )
    return ticket


@pytest.fixture
async def migrated(services: Services, tmp_path: Path) -> dict[str, str]:
    """A migrated database with some records and an expired hold; the settings to reach it."""
    dsn = await fresh_database(services.database_url, "mhc_fcli")
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        writer = LogWriter(pool, Clock())
        writer.start()
        for i in range(5):
            await writer.append("PLAYBACK_REVOKED", None, f"s-{i}", {"reason": "x"})
        await writer.stop()
        async with pool.acquire() as conn:
            ticket = await expired_hold(conn)
    finally:
        await pool.close()
    generate_key_file(tmp_path / "audit.pem")
    return {
        "DATABASE_URL": dsn,
        "MHC_STATE_DIR": str(tmp_path),
        "MHC_FORENSIC_KEY": str(tmp_path / "audit.pem"),
        "TICKET": str(ticket),
    }


async def hold_and_log(dsn: str, ticket: str) -> tuple[tuple[str, int], list[str]]:
    """The hold's status and held count, and the record types in the log."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT t.status, s.held FROM tickets t JOIN ticket_stock s "
            "USING (event_id) WHERE t.id = $1",
            uuid.UUID(ticket),
        )
        types = await conn.fetch("SELECT DISTINCT type FROM forensic_log ORDER BY type")
    finally:
        await conn.close()
    return (row["status"], row["held"]), [t["type"] for t in types]


async def test_commands_leave_other_packages_alone_and_need_no_redis(
    migrated: dict[str, str], services: Services, tmp_path: Path
) -> None:
    ticket = migrated.pop("TICKET")
    # With the operator's usual settings, Redis included: still only the audit trail runs.
    done = await mhc("forensics", "daily", **migrated, REDIS_URL=services.redis_url)
    assert done.returncode == 0, done.stderr
    hold, types = await hold_and_log(migrated["DATABASE_URL"], ticket)
    assert hold == ("reserved", 1), "expiring holds is the app's sweeper's work, not the tool's"
    assert types == ["CHECKPOINT_CREATED", "EXPORT_CREATED", "PLAYBACK_REVOKED"]
    for cmd in (["verify"], ["checkpoint"], ["export", "--first", "1"]):
        done = await mhc("forensics", *cmd, **migrated)
        assert done.returncode == 0, (cmd, done.stderr)
    report = json.loads((await mhc("forensics", "verify", **migrated)).stdout)
    assert report["ok"] and report["checked"] >= 5
    assert len(list((tmp_path / "forensic-exports").glob("audit-*.tar.gz"))) == 2
    assert (await hold_and_log(migrated["DATABASE_URL"], ticket))[0] == ("reserved", 1)


async def test_unmigrated_database_is_refused_not_migrated(
    services: Services, tmp_path: Path
) -> None:
    dsn = await fresh_database(services.database_url, "mhc_fcli")
    generate_key_file(tmp_path / "audit.pem")
    done = await mhc(
        "forensics",
        "checkpoint",
        DATABASE_URL=dsn,
        MHC_STATE_DIR=str(tmp_path),
        MHC_FORENSIC_KEY=str(tmp_path / "audit.pem"),
    )
    assert done.returncode == 2 and "mhc migrate" in done.stderr, done.stderr
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_missing_signing_key_is_refused_not_created(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    migrated.pop("TICKET")
    key = tmp_path / "elsewhere.pem"
    done = await mhc("forensics", "checkpoint", **{**migrated, "MHC_FORENSIC_KEY": str(key)})
    assert done.returncode == 2 and "no forensic signing key" in done.stderr, done.stderr
    assert not key.exists()


async def test_bad_range_is_a_usage_error(migrated: dict[str, str]) -> None:
    migrated.pop("TICKET")
    done = await mhc("forensics", "export", "--first", "50", **migrated)
    assert done.returncode == 2 and "bad range" in done.stderr, done.stderr
