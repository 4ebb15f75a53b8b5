"""Ticket validations per second and p99 latency, against what an operator would otherwise run.

Runs, side by side in one run on loopback:
  1. ours: many concurrent validators, each POSTing a distinct ticket's fresh signed code to
     /api/tickets/validate of a real `mhc serve` process (JWT auth, Redis rate limits,
     signature and window, the single-use conditional UPDATE, a playback session, the
     forensic record), every reply a 200 with a playback grant;
  2. baseline: the same validators, served and loaded the same way, against a minimal aiohttp
     endpoint in its own process (baseline_app.py) that checks the same JWT and runs only the
     conditional UPDATE on a table of the same shape;
  3. reference: the bare asyncpg `UPDATE ... WHERE id = $1 AND used = false` with no HTTP,
     through a pool as large as the app's (printed, not compared).
The last line is the ratio ours/baseline (validations per second).

Usage: python bench/ticket_validate/run.py [--tickets 4000] [--concurrency 64]
Uses DATABASE_URL/REDIS_URL or starts private ones.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server import localstack
from server.accounts.tokens import issue_access
from ticketing import qr

POOL_SIZE = 20  # the app's pool (server.db.create_pool max_size)
ROUNDS = 6


async def _seed(
    dsn: str, base: str, jwt_secret: str, qr_key: bytes, n: int
) -> tuple[list[tuple[str, str]], list[tuple[str, uuid.UUID]], list[uuid.UUID]]:
    """An event with n paid tickets, 2n baseline rows: (token, code) per ticket, (token, id)
    for the baseline endpoint, and the ids for the bare UPDATE."""
    now = time.time()
    artist = uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, display_name, role) "
            "VALUES ($1, $2, 'x', 'Bench artist', 'artist')",
            artist,
            f"artist-{artist.hex[:8]}@bench.test",
        )
        token = issue_access(jwt_secret, artist, "artist", now, 3600)[0]
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                base + "/api/live/create",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "title": "bench",
                    "starts_at": "2030-01-01T00:00:00Z",
                    "price": 999,
                    "currency": "EUR",
                },
            ) as r,
        ):
            event = uuid.UUID((await r.json())["id"])
        fans = [uuid.uuid4() for _ in range(n)]
        tickets = [uuid.uuid4() for _ in range(n)]
        paid = datetime.now(UTC)
        await conn.executemany(
            "INSERT INTO users (id, email, password_hash, display_name, role) "
            "VALUES ($1, $2, 'x', 'Bench fan', 'fan')",
            [(f, f"fan-{f.hex}@bench.test") for f in fans],
        )
        await conn.executemany(
            """INSERT INTO tickets (id, event_id, user_id, status, amount_minor, currency,
                                    replay_access, provider, reserved_until, paid_at)
               VALUES ($1, $2, $3, 'paid', 999, 'EUR', false, 'dev', $4, $4)""",
            [(t, event, f, paid) for t, f in zip(tickets, fans)],
        )
        await conn.execute("INSERT INTO ticket_stock (event_id, held) VALUES ($1, $2)", event, n)
        # The baseline's table: the tickets table's shape plus a `used` flag.
        await conn.execute("""CREATE TABLE bench_baseline (LIKE tickets INCLUDING DEFAULTS
                                  INCLUDING CONSTRAINTS INCLUDING INDEXES);
                              ALTER TABLE bench_baseline ADD COLUMN used boolean NOT NULL
                                  DEFAULT false""")
        endpoint = [uuid.uuid4() for _ in range(n)]
        baseline = [uuid.uuid4() for _ in range(n)]
        await conn.executemany(
            """INSERT INTO bench_baseline (id, event_id, user_id, status, amount_minor, currency,
                                           replay_access, provider, reserved_until, paid_at)
               VALUES ($1, $2, $3, 'paid', 999, 'EUR', false, 'dev', $4, $4)""",
            [(b, event, f, paid) for b, f in zip(baseline, fans)]
            # Another event id for the endpoint's rows: one ticket per fan and event.
            + [(b, uuid.uuid4(), f, paid) for b, f in zip(endpoint, fans)],
        )
        await conn.execute("ANALYZE tickets; ANALYZE bench_baseline")
    finally:
        await conn.close()
    nbf = int(now)
    tokens = [issue_access(jwt_secret, f, "fan", now, 3600)[0] for f in fans]
    work = [(tok, qr.sign(qr_key, t, event, nbf, nbf + 300)) for tok, t in zip(tokens, tickets)]
    return work, list(zip(tokens, endpoint)), baseline


async def _drive(
    items: list[object], concurrency: int, one: Callable[[object], Awaitable[bool]]
) -> tuple[float, list[float]]:
    """Run `one` over items with `concurrency` workers; (elapsed s, latencies s)."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            item = queue.get_nowait()
            t0 = time.perf_counter()
            ok = await one(item)
            latencies.append(time.perf_counter() - t0)
            if not ok:
                raise SystemExit(f"a validation failed: {item!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p(latencies: list[float], q: float) -> float:
    return statistics.quantiles(latencies, n=1000)[int(q * 1000) - 1] * 1000


async def _bench(
    dsn: str,
    base: str,
    other: str,
    jwt_secret: str,
    qr_key: bytes,
    n: int,
    warmup: int,
    concurrency: int,
    pids: tuple[int, int],
) -> None:
    work, endpoint, baseline = await _seed(dsn, base, jwt_secret, qr_key, n + warmup)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        counter = iter(range(10**9))

        async def ours(item: object) -> bool:
            assert isinstance(item, tuple)
            token, code = item
            i = next(counter)
            async with session.post(
                base + "/api/tickets/validate",
                json={"code": code},
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Real-IP": f"198.18.{i // 250 % 250}.{i % 250 + 1}",
                },
            ) as resp:
                body = await resp.json()
                return resp.status == 200 and bool(body["playback"]["token"])

        async def minimal(item: object) -> bool:
            assert isinstance(item, tuple)
            token, ticket = item
            async with session.post(
                other + "/validate",
                json={"ticket_id": str(ticket)},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                body = await resp.json()
                return resp.status == 200 and body["status"] == "ok"

        await _drive(list(work[:warmup]), concurrency, ours)
        await _drive(list(endpoint[:warmup]), concurrency, minimal)
        # Alternating rounds, so both sides see the same background load on a shared machine.
        ours_s = min_s = 0.0
        ours_lat: list[float] = []
        min_lat: list[float] = []
        step = -(-n // ROUNDS)
        # Each server's own CPU time over its rounds: on a shared machine it varies far less
        # than wall-clock rates (the other server idles meanwhile).
        ours_cpu = min_cpu = 0.0
        for start in range(warmup, warmup + n, step):
            cpu = _cpu_seconds(pids[0])
            elapsed, lat = await _drive(list(work[start : start + step]), concurrency, ours)
            ours_cpu += _cpu_seconds(pids[0]) - cpu
            ours_s, ours_lat = ours_s + elapsed, ours_lat + lat
            cpu = _cpu_seconds(pids[1])
            elapsed, lat = await _drive(list(endpoint[start : start + step]), concurrency, minimal)
            min_cpu += _cpu_seconds(pids[1]) - cpu
            min_s, min_lat = min_s + elapsed, min_lat + lat

    pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    assert pool is not None

    async def bare(item: object) -> bool:
        async with pool.acquire() as conn:
            result = await conn.execute(
                "UPDATE bench_baseline SET used = true, admitted_at = now() "
                "WHERE id = $1 AND used = false",
                item,
            )
        return bool(result == "UPDATE 1")

    await _drive(list(baseline[:warmup]), concurrency, bare)
    base_s, base_lat = await _drive(list(baseline[warmup:]), concurrency, bare)
    await pool.close()

    ours_rate, min_rate, base_rate = n / ours_s, n / min_s, n / base_s
    print(
        f"{n} validations of distinct tickets, {concurrency} concurrent validators "
        f"({warmup} more as warm-up each)"
    )
    print(
        f"ours      (HTTP validate, full checks):  {ours_rate:9.0f} validations/s  "
        f"p50 {_p(ours_lat, 0.5):7.2f} ms  p99 {_p(ours_lat, 0.99):7.2f} ms"
    )
    print(
        f"baseline  (HTTP, JWT + conditional UPDATE): {min_rate:6.0f} validations/s  "
        f"p50 {_p(min_lat, 0.5):7.2f} ms  p99 {_p(min_lat, 0.99):7.2f} ms"
    )
    print(
        f"reference (bare UPDATE, no HTTP):      {base_rate:9.0f} updates/s      "
        f"p50 {_p(base_lat, 0.5):7.2f} ms  p99 {_p(base_lat, 0.99):7.2f} ms"
    )
    print(
        f"server CPU per validation: ours {ours_cpu / n * 1000:.3f} ms, "
        f"baseline {min_cpu / n * 1000:.3f} ms"
    )
    print(f"ratio ours/baseline: {ours_rate / min_rate:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    try:
        dsn = stack.database_url(durable=False)
        dsn = asyncio.run(localstack.fresh_database(dsn, "mhc_bench"))
        redis_url = stack.redis_url()
        port = localstack.free_port()
        secrets_env = {
            n: secrets.token_urlsafe(32)
            for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET", "MHC_QR_SECRET")
        }
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "MHC_PORT": str(port),
            "MHC_STATE_DIR": str(work / "state"),
            "MHC_LOG_LEVEL": "WARNING",
            "MHC_PAYMENTS": "dev",
            **secrets_env,
        }
        for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
            env.pop(name, None)
        app = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )
        stack.add(localstack.Service("app", app, port))
        localstack.wait_for_port(port, app, "app")
        other_port = localstack.free_port()
        minimal = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("baseline_app.py")),
                str(other_port),
                dsn,
                secrets_env["MHC_JWT_SECRET"],
            ],
            env=env,
        )
        stack.add(localstack.Service("baseline", minimal, other_port))
        localstack.wait_for_port(other_port, minimal, "baseline")
        qr_key = hashlib.sha256(secrets_env["MHC_QR_SECRET"].encode()).digest()
        asyncio.run(
            _bench(
                dsn,
                f"http://127.0.0.1:{port}",
                f"http://127.0.0.1:{other_port}",
                secrets_env["MHC_JWT_SECRET"],
                qr_key,
                args.tickets,
                args.warmup,
                args.concurrency,
                (app.pid, minimal.pid),
            )
        )
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
