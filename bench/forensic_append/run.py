"""Sustained forensic appends with 64 concurrent producers, chained versus plain INSERTs.

Side by side in one run against the same PostgreSQL: (1) the real audit trail —
`forensics.service.log_event` through the app, hash-chained and group-committed; (2) the
baseline — the same rows INSERTed one per statement (autocommit) into an unchained table of
the same shape, by the same number of producers over a pool of the same size. Then the
offline verifier's rate on a bundle of 1,000,000 records. The last line is chained/plain.

Usage: python bench/forensic_append/run.py [--seconds 10] [--producers 64] [--verify-records N]
Uses DATABASE_URL when set, otherwise a private (durable, fsync on) PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.load import produce
from forensics import service
from forensics.benchmark import benchmark_verify
from server import localstack
from server.app import create_app
from server.config import load_config

POOL_SIZE = 20  # the app's pool size (server.db.create_pool)


async def chained(dsn: str, redis_url: str, state: Path, seconds: float, producers: int) -> float:
    env = {
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "MHC_STATE_DIR": str(state),
        "MHC_FORENSIC_SCHEDULER": "off",
        "PATH": os.environ.get("PATH", ""),
        **{
            n: secrets.token_urlsafe(32)
            for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")
        },
    }
    runner = web.AppRunner(create_app(load_config(env)))
    await runner.setup()
    app = runner.app

    async def append(i: int, n: int) -> None:
        await service.log_event(
            app, "PLAYBACK_REVOKED", f"producer-{i}", str(uuid.uuid4()), {"reason": "bench", "n": n}
        )

    try:
        count = await produce(seconds, producers, append)
    finally:
        await runner.cleanup()
    return count / seconds


async def plain(dsn: str, seconds: float, producers: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    assert pool is not None
    await pool.execute("""CREATE TABLE IF NOT EXISTS bench_plain_log (
        seq bigserial PRIMARY KEY, ts timestamptz NOT NULL, type text NOT NULL, actor text,
        subject text, data jsonb NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL)""")
    zero = bytes(32)

    async def append(i: int, n: int) -> None:
        # The same row content, including a hash computed per row, minus the chain.
        data = f'{{"reason": "bench", "n": {n}}}'
        digest = hashlib.sha256(data.encode()).digest()
        await pool.execute(
            """INSERT INTO bench_plain_log (ts, type, actor, subject, data, prev_hash, hash)
               VALUES (now(), 'PLAYBACK_REVOKED', $1, $2, $3::jsonb, $4, $5)""",
            f"producer-{i}",
            str(uuid.uuid4()),
            data,
            zero,
            digest,
        )

    try:
        return await produce(seconds, producers, append) / seconds
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--producers", type=int, default=64)
    parser.add_argument("--verify-records", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    try:
        dsn = stack.database_url(durable=True)
        redis_url = stack.redis_url()

        async def run() -> tuple[float, float]:
            bench_dsn = await localstack.fresh_database(dsn, "mhc_bench")
            # Alternate so neither side always runs on a colder or warmer database.
            p1 = await plain(bench_dsn, args.seconds / 2, args.producers)
            c1 = await chained(
                bench_dsn, redis_url, work / "state", args.seconds / 2, args.producers
            )
            c2 = await chained(
                bench_dsn, redis_url, work / "state", args.seconds / 2, args.producers
            )
            p2 = await plain(bench_dsn, args.seconds / 2, args.producers)
            return (c1 + c2) / 2, (p1 + p2) / 2

        chained_rate, plain_rate = asyncio.run(run())
        result = benchmark_verify(args.verify_records)
        print(f"producers: {args.producers}; pool: {POOL_SIZE}; {args.seconds:.0f}s per side")
        print(f"chained appends (log_event):   {chained_rate:10.0f} records/s")
        print(f"plain INSERTs (unchained):     {plain_rate:10.0f} records/s")
        print(
            f"offline verifier: {result.records} records in {result.seconds:.2f}s = "
            f"{result.rate:,.0f} records/s ({'verified' if result.ok else 'FAILED'})"
        )
        print(f"ratio chained/plain: {chained_rate / plain_rate:.3f}")
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
