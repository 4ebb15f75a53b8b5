"""Chat fan-out benchmark: our chat against a bare python-socketio broadcaster, same load.

For each room size in --clients (default 1,000 and 3,000 receivers), one room with that
many receivers plus --senders senders (distinct users, so each stays inside the per-user
rate limit) sending --rate messages per second in total. All of them connect at once, as
fans do in the minute before a show: the join storm. Ours runs as a real `mhc serve`
process on private PostgreSQL and Redis (auth, validation, rate limits, Redis fan-out,
batched persistence all on); the baseline is bare.py. The load generator is a separate
process that splits the receivers over --load-procs processes (default: one per core), the
same for both servers. Prints, per size, connects per second (connect + authenticate +
join) and connect p99, message latency p50/p99, lost messages, each server's CPU per
message and per connect and the generator's CPU per delivery, for both side by side; the
LAST line is the ratio of deliveries per second, ours/bare, at the largest size.

    .venv/bin/python bench/chat_fanout/run.py [--clients 1000,3000] [--rate 20] [--duration 10]
        [--load-procs N]
        [--profile FILE]   (ours runs under cProfile; stats written to FILE at exit)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server import localstack
from server.accounts import store as accounts_store
from server.accounts.tokens import issue_access
from server.live import store as live_store

HERE = Path(__file__).resolve().parent


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll /readyz until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server at {url} not ready within {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child, then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def seed(dsn: str, secret: str, users: int) -> list[str]:
    """`users` fans with access tokens (no password logins)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        tokens = []
        now = time.time()
        for i in range(users):
            uid = uuid.uuid4()
            await accounts_store.insert_user(
                conn, uid, f"fan-{uid.hex[:12]}@bench.test", "unused", f"fan {i}", "fan"
            )
            tokens.append(issue_access(secret, uid, "fan", now, 3600)[0])
        return tokens
    finally:
        await conn.close()


async def new_event(dsn: str) -> str:
    """A fresh free event (one room per run) of a new artist."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        artist = uuid.uuid4()
        await accounts_store.insert_user(
            conn, artist, f"artist-{artist.hex[:8]}@bench.test", "unused", "Bench Artist", "artist"
        )
        event_id = uuid.uuid4()
        fields = {
            "title": "Bench",
            "description": "",
            "starts_at": datetime.now(UTC),
            "price_minor": 0,
            "currency": "EUR",
            "capacity": None,
            "replay_access": False,
        }
        await live_store.insert(conn, event_id, artist, fields, secrets.token_bytes(32))
        return str(event_id)
    finally:
        await conn.close()


def run_load(
    work: Path,
    name: str,
    pid: int,
    url: str,
    event_id: str,
    tokens: list[str],
    clients: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Run the load generator against `url` and return its figures."""
    senders = tokens[clients : clients + args.senders]
    job = {
        "url": url,
        "event_id": event_id,
        "receiver_tokens": tokens[:clients],
        "sender_tokens": senders,
        "rate": args.rate,
        "warmup": args.warmup,
        "duration": args.duration,
        "server_pid": pid,
    }
    path = work / f"job-{name}.json"
    path.write_text(json.dumps(job))
    out = subprocess.run(
        [sys.executable, str(HERE / "load.py"), str(path), "--procs", str(args.load_procs)],
        capture_output=True,
        text=True,
        timeout=args.duration + args.warmup + 180,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"load generator failed against {name}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def show(name: str, r: dict[str, Any]) -> None:
    """One result as a readable line."""
    print(
        f"{name:5} receivers={r['receivers']} connects/s={r['connects_per_s']:.0f} "
        f"(all in {r['connect_s']}s, p99 {r['connect_p99_ms']:.0f}ms) "
        f"p50={r['p50_ms']:.1f}ms p99={r['p99_ms']:.1f}ms max={r['max_ms']:.1f}ms "
        f"deliveries/s={r['deliveries_per_s']:.0f} (offered {r['offered_per_s']:.0f}) "
        f"lost={r['lost']} sent={r['sent']} acks={r['acks']} "
        f"dropped={r['dropped_connections']} "
        f"server CPU/message={r['server_cpu_ms_per_message']:.1f}ms "
        f"(/connect {r['server_cpu_ms_per_connect']:.2f}ms) "
        f"load CPU/delivery={r['load_cpu_us_per_delivery']:.2f}us in {r['load_processes']} processes",
        flush=True,
    )


def main() -> None:
    """Per room size: ours, then the baseline; the ratio last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--clients",
        default="1000,3000",
        help="receiving clients per run, comma-separated room sizes",
    )
    parser.add_argument("--senders", type=int, default=50, help="sending clients (users)")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second, total")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument(
        "--load-procs",
        type=int,
        default=os.cpu_count() or 1,
        help="load generator processes reading the receivers' deliveries",
    )
    parser.add_argument("--profile", help="run ours under cProfile, writing stats here")
    args = parser.parse_args()
    sizes = [int(n) for n in str(args.clients).split(",") if n.strip()]
    users = max(sizes) + args.senders
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = users + 512
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))

    work = Path(tempfile.mkdtemp(prefix="mhc-bench-chat-"))
    work.chmod(0o755)
    stack = localstack.Stack(work)
    try:
        dsn = stack.database_url(durable=True)
        redis_url = stack.redis_url()
        secret = secrets.token_urlsafe(32)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "MHC_JWT_SECRET": secret,
            "MHC_PLAYBACK_SECRET": secrets.token_urlsafe(32),
            "MHC_HOOK_SECRET": secrets.token_urlsafe(32),
            "MHC_STATE_DIR": str(work / "state"),
            "MHC_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        print(
            f"chat join storm and fan-out: rooms of {', '.join(map(str, sizes))} receivers "
            f"+ {args.senders} senders connecting at once, then {args.rate:g} msg/s for "
            f"{args.duration:g}s after {args.warmup:g}s warm-up, {os.cpu_count()} cores",
            flush=True,
        )
        tokens: list[str] = []
        results: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for clients in sizes:
            port = localstack.free_port()
            serve = [sys.executable, "-m", "server.cli", "serve"]
            if args.profile:
                serve[1:1] = ["-m", "cProfile", "-o", f"{args.profile}.{clients}"]
            with open(os.environ.get("BENCH_LOG", work / "ours.log"), "ab") as log:
                ours_proc = subprocess.Popen(
                    serve,
                    cwd=ROOT,
                    env={**env, "MHC_PORT": str(port)},
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                try:
                    ours_url = f"http://127.0.0.1:{port}"
                    wait_ready(ours_url, ours_proc)
                    if not tokens:
                        tokens = asyncio.run(seed(dsn, secret, users))
                    event_id = asyncio.run(new_event(dsn))
                    ours = run_load(
                        work, "ours", ours_proc.pid, ours_url, event_id, tokens, clients, args
                    )
                finally:
                    stop(ours_proc)
            show("ours", ours)

            bare_port = localstack.free_port()
            with open(work / "bare.log", "ab") as log:
                bare_proc = subprocess.Popen(
                    [sys.executable, str(HERE / "bare.py"), "--port", str(bare_port)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                try:
                    bare_url = f"http://127.0.0.1:{bare_port}"
                    wait_ready(bare_url, bare_proc)
                    bare = run_load(
                        work, "bare", bare_proc.pid, bare_url, event_id, tokens, clients, args
                    )
                finally:
                    stop(bare_proc)
            show("bare", bare)
            results.append((clients, ours, bare))
        print(
            "receivers  connects/s ours | bare   p99 ms ours | bare   lost ours | bare", flush=True
        )
        for clients, ours, bare in results:
            print(
                f"{clients:9}  {ours['connects_per_s']:10.0f} | {bare['connects_per_s']:<6.0f}"
                f" {ours['p99_ms']:11.1f} | {bare['p99_ms']:<6.1f}"
                f" {ours['lost']:9} | {bare['lost']}",
                flush=True,
            )
        clients, ours, bare = results[-1]
        ratio = (
            ours["deliveries_per_s"] / bare["deliveries_per_s"] if bare["deliveries_per_s"] else 0
        )
        print(f"ratio deliveries/s ours/bare at {clients} receivers: {ratio:.3f}", flush=True)
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
