"""3-leg ticket settlements through `ledger.post` with 32 concurrent posters, against a bare
INSERT of the same three rows in one transaction, then `mhc ledger check` over 1,000,000
transfers.

Side by side in one run against the same PostgreSQL: (1) the ledger — `ledger.post` of a
ticket sale (a pending artist leg, platform and processing legs): accounts checked, balances
updated under their limits by the database, the forensic record queued in the same
transaction; (2) the baseline — the same three rows INSERTed into a table of the same shape
with no trigger, in one transaction, over a pool of the same size. Sales are spread over
ARTISTS artists. Then the ledger is filled to 1,000,000 transfers and `mhc ledger check` is
timed as an operator runs it. The last line is ledger/bare.

Usage: python bench/ledger_post/run.py [--seconds 10] [--posters 32] [--transfers 1000000]
Uses a private (durable, fsync on) PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import ledger
from bench.load import produce
from ledger import accounts as acc
from ledger import check as ledger_check
from ledger.tickets import TicketSale, sale_posting
from server import localstack
from server.app import create_app
from server.config import load_config

POOL_SIZE = 20  # the app's pool size (server.db.create_pool)
ARTISTS = 200
EVENTS = [uuid.uuid4() for _ in range(ARTISTS)]
OWNERS = [uuid.uuid4() for _ in range(ARTISTS)]


def _env(dsn: str, redis_url: str, state: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "MHC_STATE_DIR": str(state),
        "MHC_FORENSIC_SCHEDULER": "off",
        "MHC_JOBS_WORKER": "off",
        "PATH": os.environ.get("PATH", ""),
        **{
            n: secrets.token_urlsafe(32)
            for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")
        },
    }


async def with_ledger(dsn: str, redis_url: str, state: Path, seconds: float, posters: int) -> float:
    runner = web.AppRunner(create_app(load_config(_env(dsn, redis_url, state))))
    await runner.setup()
    app = runner.app

    async def settle(i: int, n: int) -> None:
        k = (i * 7919 + n) % ARTISTS
        await ledger.post(
            app,
            sale_posting(TicketSale(uuid.uuid4(), EVENTS[k], OWNERS[k], "EUR", 999, 801, 99, 99)),
        )

    try:
        for k in range(ARTISTS):  # accounts exist before timing, as they do in service
            await settle(k, 0)
        count = await produce(seconds, posters, settle)
    finally:
        await runner.cleanup()
    return count / seconds


async def bare(dsn: str, seconds: float, posters: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    assert pool is not None
    await pool.execute("""CREATE TABLE IF NOT EXISTS bench_bare_transfers (
        id uuid PRIMARY KEY, debit_account_id uuid NOT NULL, credit_account_id uuid NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0), currency char(3) NOT NULL,
        kind text NOT NULL, pending_id uuid, posting_id uuid NOT NULL, code text NOT NULL,
        source text NOT NULL, ref text NOT NULL DEFAULT '', shard smallint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now())""")
    clearing = uuid.uuid4()
    platform, processing = uuid.uuid4(), uuid.uuid4()

    async def settle(i: int, n: int) -> None:
        k = (i * 7919 + n) % ARTISTS
        t = uuid.uuid4()
        ids = [uuid.uuid4() for _ in range(3)]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO bench_bare_transfers (id, debit_account_id, credit_account_id,
                       amount, currency, kind, posting_id, code, source, ref)
                   VALUES ($1, $4, $5, 801, 'EUR', 'pending', $1, 'ticket_sale', $8, $9),
                          ($2, $4, $6, 99, 'EUR', 'posted', $1, 'ticket_sale', $8, $9),
                          ($3, $4, $7, 99, 'EUR', 'posted', $1, 'ticket_sale', $8, $9)""",
                *ids,
                clearing,
                OWNERS[k],
                platform,
                processing,
                f"event:{EVENTS[k]}",
                str(t),
            )

    try:
        return await produce(seconds, posters, settle) / seconds
    finally:
        await pool.close()


async def fill(dsn: str, total: int) -> int:
    """Bring the ledger to `total` transfers (tips to many artists), written in bulk with the
    balances set from them: what a long-running ledger holds, built in seconds."""
    conn = await asyncpg.connect(dsn)
    try:
        have = int(await conn.fetchval("SELECT count(*) FROM ledger_transfers"))
        missing = max(0, total - have)
        artists = [uuid.uuid4() for _ in range(1000)]
        await acc.ensure(
            conn,
            [(acc.artist("artist_available", a), "EUR") for a in artists] + [(acc.CLEARING, "EUR")],
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                """INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount,
                       currency, kind, posting_id, code, source, ref, shard)
                   SELECT g.id, $1, a.ids[1 + (g.n % 1000)], 1 + g.n % 5000, 'EUR', 'posted',
                          g.id, 'tip', 'tip', '', g.n % 64
                   FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, $3) AS n) g,
                        (SELECT $2::uuid[] AS ids) a""",
                acc.CLEARING.id("EUR"),
                [acc.artist("artist_available", a).id("EUR") for a in artists],
                missing,
            )
            # The balances the trigger would have written, from the whole table.
            await ledger_check.rebuild_balances(conn)
        await conn.execute("VACUUM ANALYZE ledger_transfers")
        return int(await conn.fetchval("SELECT count(*) FROM ledger_transfers"))
    finally:
        await conn.close()


def check(dsn: str) -> tuple[float, int, str]:
    """Run `mhc ledger check` as an operator does; its wall time, exit code and last line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MHC_", "DATABASE_"))}
    env.update(
        {
            "DATABASE_URL": dsn,
            **{n: "s" * 40 for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")},
        }
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "ledger", "check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - started
    return took, done.returncode, (done.stdout.strip().splitlines() or [done.stderr])[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--posters", type=int, default=32)
    parser.add_argument("--transfers", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    try:
        dsn = stack.database_url(durable=True)
        redis_url = stack.redis_url()

        async def run() -> tuple[float, float, str, int]:
            bench_dsn = await localstack.fresh_database(dsn, "mhc_bench")
            state = work / "state"
            # Alternate so neither side always runs on a colder or warmer database.
            b1 = await bare(bench_dsn, args.seconds / 2, args.posters)
            l1 = await with_ledger(bench_dsn, redis_url, state, args.seconds / 2, args.posters)
            l2 = await with_ledger(bench_dsn, redis_url, state, args.seconds / 2, args.posters)
            b2 = await bare(bench_dsn, args.seconds / 2, args.posters)
            count = await fill(bench_dsn, args.transfers)
            return (l1 + l2) / 2, (b1 + b2) / 2, bench_dsn, count

        ledger_rate, bare_rate, bench_dsn, count = asyncio.run(run())
        took, code, line = check(bench_dsn)
        print(
            f"posters: {args.posters}; pool: {POOL_SIZE}; artists: {ARTISTS}; "
            f"{args.seconds:.0f}s per side"
        )
        print(f"ledger.post (3-leg ticket sale):   {ledger_rate:10.0f} settlements/s")
        print(f"bare INSERT of the 3 rows:         {bare_rate:10.0f} settlements/s")
        print(f"mhc ledger check over {count} transfers: {took:.2f} s wall, exit {code} ({line})")
        print(f"ratio ledger/bare: {ledger_rate / bare_rate:.3f}")
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
