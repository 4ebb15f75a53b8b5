"""Royalty report ingestion: lines per second through `royalties.ingest_file` for a generated
1,000,000-line DDEX DSR flat file, against a bare parse (split on tabs) + PostgreSQL COPY of
the same lines.

Side by side in one run against the same private (durable, fsync on) PostgreSQL: (1) ours —
the whole ingestion: read and hash the file, parse and check every record (footer counts,
summary totals), sum lines by natural key, look up the ISRCs' owners, COPY the lines and keep
the new ones under their natural key, post per artist through the ledger, in one
transaction; (2) the baseline — read the file, split every line on tabs and COPY all of them
into a plain table of ten text columns. The last line is ours/bare (goal >= 0.3).

Usage: python bench/dsr_ingest/run.py [--lines 1000000] [--known 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from distribution.royalties import ingest_file
from server import db, localstack
from server.app import create_app
from server.config import load_config

TERRITORIES = 50


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


def _isrc(n: int) -> str:
    return f"ZZB01{26:02d}{n:05d}" if n < 100_000 else f"ZZC{n // 100_000:02d}26{n % 100_000:05d}"


def generate(path: Path, lines: int) -> int:
    """A DSR of exactly `lines` lines (HEAD, summaries, blocks of RE/AS/SU, FOOT); each sale
    has its own ISRC x territory. Returns the number of distinct recordings."""
    summaries = TERRITORIES + (lines - 2 - TERRITORIES) % 3
    blocks = (lines - 2 - summaries) // 3
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(summaries)]
    per_summary = [0] * summaries
    with path.open("w") as f:
        f.write(
            "HEAD\tdsr/4.1\tBasicAudioProfile\t1.3\tBENCH\t2026-04-02T00:00:00Z\t1\t1\t"
            "2026-03-01\t2026-03-31\tPADPIDA2011072101T\tSpotify\tPremium\n"
        )
        # amounts are whole micro-units so the summary totals below are exact
        for b in range(blocks):
            per_summary[b % summaries] += 1000 + b % 997
        for s in range(summaries):
            total = per_summary[s]
            f.write(
                f"SY02.03\t{s + 1}\tSpotify\tSubscriptionModel\tOnDemandStream\t{codes[s]}\t"
                f"Premium\t0\t0\tEUR\t{total // 1_000_000}.{total % 1_000_000:06d}\n"
            )
        for b in range(blocks):
            amount = 1000 + b % 997
            isrc = _isrc(b // summaries)
            f.write(
                f"RE01.03\t{b}\tR1\tr{b}\t\t\t\tArtist\t\tTitle\n"
                f"AS02.04\t{b}\tA1\ta{b}\t{isrc}\tTitle\t\tArtist\n"
                f"SU02.03\t{b}\t{b % summaries + 1}\tT{b}\t\tA1\ttrue\t{1 + b % 50}\t"
                f"0.{amount:06d}\n"
            )
        f.write(f"FOOT\t{lines}\t{lines}\t{summaries}\t{blocks}\t{blocks}\n")
    return blocks // summaries + 1


async def seed_owners(dsn: str, known: int) -> None:
    """`known` artists, each owning one of the file's recordings."""
    conn = await asyncpg.connect(dsn)
    try:
        artists = [uuid.uuid4() for _ in range(known)]
        await conn.executemany(
            """INSERT INTO users (id, email, password_hash, display_name, role)
               VALUES ($1::uuid, $2, 'x', 'Bench', 'artist')""",
            [(a, f"{a}@bench.test") for a in artists],
        )
        await conn.executemany(
            """INSERT INTO distribution_releases (id, artist_id, isrc, upc, metadata, audio, cover)
               VALUES ($1, $2, $3, $4, '{"title": "Bench"}', '{}', '{}')""",
            [(uuid.uuid4(), a, _isrc(i), f"{i:013d}") for i, a in enumerate(artists)],
        )
    finally:
        await conn.close()


async def ours(dsn: str, redis_url: str, state: Path, path: Path) -> tuple[float, str]:
    runner = web.AppRunner(create_app(load_config(_env(dsn, redis_url, state))))
    await runner.setup()
    try:
        started = time.perf_counter()
        done = await ingest_file(runner.app, "spotify", path)
        took = time.perf_counter() - started
    finally:
        await runner.cleanup()
    assert done.state == "posted", done.reason
    return took, (f"{done.lines} distinct lines, {len(done.unknown_isrcs)} unknown ISRCs reported")


async def bare(dsn: str, path: Path) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_dsr_raw ("
            + ", ".join(f"c{i} text" for i in range(10))
            + ")"
        )
        started = time.perf_counter()
        rows = []
        with path.open() as f:
            for line in f:
                cells = line.rstrip("\n").split("\t")[:10]
                rows.append(cells + [None] * (10 - len(cells)))
        async with conn.transaction():
            await conn.copy_records_to_table("bench_dsr_raw", records=rows)
        return time.perf_counter() - started
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--known", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    try:
        dsn = stack.database_url(durable=True)
        redis_url = stack.redis_url()
        report = work / "report.tsv"
        recordings = generate(report, args.lines)

        async def run() -> tuple[float, float, str]:
            bench_dsn = await localstack.fresh_database(dsn, "mhc_bench")
            state = work / "state"
            conn = await asyncpg.connect(bench_dsn)
            try:
                await db.migrate(conn)
            finally:
                await conn.close()
            await seed_owners(bench_dsn, min(args.known, recordings))
            b = await bare(bench_dsn, report)
            o, what = await ours(bench_dsn, redis_url, state, report)
            return o, b, what

        took_ours, took_bare, what = asyncio.run(run())
        size = report.stat().st_size / 1e6
        print(f"DSR file: {args.lines} lines, {size:.0f} MB; {what}")
        print(
            f"royalties.ingest_file:        {args.lines / took_ours:10.0f} lines/s ({took_ours:.2f} s)"
        )
        print(
            f"bare split + COPY of lines:   {args.lines / took_bare:10.0f} lines/s ({took_bare:.2f} s)"
        )
        print(f"ratio ours/bare: {took_bare / took_ours:.3f}")
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
