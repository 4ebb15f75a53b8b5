"""Inclusion proofs served through the API at 1,000,000 records versus 10,000, side by side.

Two logs in one PostgreSQL, each behind its own app: the small one with 10,000 records,
the big one with 1,000,000, both bulk-loaded with COPY (forensics.store.copy_records) and
covered by the tiles through the build-tiles path (forensics.service.build_tiles). The
same number of concurrent auditors then ask each app for inclusion proofs of random
records, alternating big and small rounds. Printed: proofs/s at each size, the time to
sign a checkpoint at each size, the offline verifier's records/s on a 1,000,000-record
bundle, and last the ratio proofs/s(1M) / proofs/s(10k) (1.0: proof cost does not grow
with the log).

Usage: python bench/forensic_proof/run.py [--seconds 8] [--clients 16] [--big 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.load import produce
from forensics import service, store
from forensics.benchmark import benchmark_verify, synthetic_rows
from forensics.merkle import leaf_hash, verify_inclusion
from server import localstack
from server.accounts.tokens import issue_access
from server.app import create_app
from server.config import load_config
from server.keys import DB
from server.localstack import free_port

COPY_CHUNK = 50_000
ROUNDS = 4


async def fill(app: web.Application, n: int) -> float:
    """Bulk-load n records and cover them with tiles; return the seconds it took."""
    start = time.perf_counter()
    rows = synthetic_rows(n)
    async with app[DB].acquire() as conn:
        done = 0
        while done < n:
            chunk = [next(rows) for _ in range(min(COPY_CHUNK, n - done))]
            async with conn.transaction():
                tail, _ = await store.lock_and_tail(conn)
                assert tail == done, "bulk loading needs an empty log"
                await store.copy_records(conn, chunk)
            done += len(chunk)
    await service.build_tiles(app)
    return time.perf_counter() - start


class Log:
    """One app over its own database, reachable over HTTP."""

    def __init__(self, runner: web.AppRunner, url: str, token: str, size: int) -> None:
        self.runner, self.url, self.token, self.size = runner, url, token, size

    @property
    def app(self) -> web.Application:
        return self.runner.app


async def start(dsn: str, redis_url: str, state: Path, jwt_secret: str, n: int) -> Log:
    port = free_port()
    env = {
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "MHC_STATE_DIR": str(state),
        "MHC_PORT": str(port),
        "MHC_FORENSIC_SCHEDULER": "off",
        "MHC_JWT_SECRET": jwt_secret,
        "PATH": os.environ.get("PATH", ""),
        **{n: secrets.token_urlsafe(32) for n in ("MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")},
    }
    runner = web.AppRunner(create_app(load_config(env)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    auditor = uuid.uuid4()
    async with runner.app[DB].acquire() as conn:
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, display_name, role) "
            "VALUES ($1, $2, 'x', 'Bench auditor', 'auditor')",
            auditor,
            f"auditor-{auditor.hex[:8]}@bench.test",
        )
    token = issue_access(jwt_secret, auditor, "auditor", time.time(), 3600)[0]
    return Log(runner, f"http://127.0.0.1:{port}", token, n)


async def proofs(log: Log, seconds: float, clients: int) -> float:
    """Inclusion proofs per second through the API, each checked against its root."""
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {log.token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(_: int, __: int) -> None:
            seq = rng.randint(1, log.size)
            url = f"{log.url}/api/forensics/proofs/inclusion?seq={seq}&size={log.size}"
            async with http.get(url, headers=headers) as resp:
                body = await resp.json()
                assert resp.status == 200, body
            verify_inclusion(
                seq - 1,
                log.size,
                leaf_hash(bytes.fromhex(body["record_hash"])),
                [bytes.fromhex(h) for h in body["proof"]],
                bytes.fromhex(body["root"]),
            )

        return await produce(seconds, clients, one) / seconds


async def signing_time(log: Log) -> float:
    start = time.perf_counter()
    await service.create_checkpoint(log.app, log.size)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8, help="per size, over all rounds")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--verify-records", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    jwt_secret = secrets.token_urlsafe(32)
    try:
        dsn = stack.database_url(durable=True)
        redis_url = stack.redis_url()

        async def run() -> dict[str, float]:
            logs = []
            fills = []
            for n in (args.small, args.big):
                log = await start(
                    await localstack.fresh_database(dsn, f"mhc_bench_{n}"),
                    redis_url,
                    work / f"state-{n}",
                    jwt_secret,
                    n,
                )
                fills.append(await fill(log.app, n))
                logs.append(log)
            small, big = logs
            # The bulk path makes a log the verifier accepts: chain, tiles and all.
            assert (await service.verify(small.app)).ok, "bulk-loaded log does not verify"
            try:
                rates: dict[str, list[float]] = {"small": [], "big": []}
                for r in range(ROUNDS):  # alternate, so neither side always runs warmer
                    order = [("small", small), ("big", big)]
                    for name, log in order if r % 2 == 0 else order[::-1]:
                        rates[name].append(await proofs(log, args.seconds / ROUNDS, args.clients))
                sign_small, sign_big = await signing_time(small), await signing_time(big)
            finally:
                for log in logs:
                    await log.runner.cleanup()
            return {
                "small": sum(rates["small"]) / ROUNDS,
                "big": sum(rates["big"]) / ROUNDS,
                "sign_small": sign_small,
                "sign_big": sign_big,
                "fill_small": fills[0],
                "fill_big": fills[1],
            }

        out = asyncio.run(run())
        verified = benchmark_verify(args.verify_records)
        print(f"clients: {args.clients}; {args.seconds:.0f}s of proofs per size")
        print(f"bulk load + tiles: {args.small} records {out['fill_small']:.1f}s, "
              f"{args.big} records {out['fill_big']:.1f}s")  # fmt: skip
        print(f"inclusion proofs at {args.small:>9}: {out['small']:8.0f} proofs/s")
        print(f"inclusion proofs at {args.big:>9}: {out['big']:8.0f} proofs/s")
        print(f"checkpoint signing at {args.small:>9}: {out['sign_small'] * 1000:8.1f} ms")
        print(f"checkpoint signing at {args.big:>9}: {out['sign_big'] * 1000:8.1f} ms")
        print(
            f"offline verifier: {verified.records} records in {verified.seconds:.2f}s = "
            f"{verified.rate:,.0f} records/s ({'verified' if verified.ok else 'FAILED'})"
        )
        print(f"ratio proofs/s {args.big} / {args.small}: {out['big'] / out['small']:.3f}")
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
