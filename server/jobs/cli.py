"""`mhc jobs` (what is queued, running and failed; retry a failed job) and `mhc worker`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys

import asyncpg
from aiohttp import web

from server.config import Config, ConfigError, load_config
from server.jobs import queue


def _config() -> Config:
    try:
        cfg = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if not cfg.database_url:
        print("configuration error: DATABASE_URL must be set", file=sys.stderr)
        raise SystemExit(2)
    return cfg


def cmd_jobs(args: argparse.Namespace) -> int:
    """List queued, running and failed jobs, or retry a failed one."""
    cfg = _config()

    async def run() -> int:
        conn = await asyncpg.connect(cfg.database_url)
        try:
            if args.jobs_cmd == "retry":
                if await queue.retry(conn, args.id):
                    print(f"job {args.id} queued again")
                    return 0
                found = await queue.get(conn, args.id)
                state = "not in the queue" if found is None else found.status
                print(
                    f"job {args.id} is {state}: only a failed job can be retried", file=sys.stderr
                )
                return 1
            jobs = await queue.listing(conn, args.limit)
        finally:
            await conn.close()
        if not jobs:
            print("no queued, running or failed jobs")
        for job in jobs:
            line = (
                f"{job.id}\t{job.status}\t{job.name}\tattempts={job.attempts}\t"
                f"created={job.created.isoformat()}\trun_after={job.run_after.isoformat()}"
                f"\t{job.payload}"
            )
            if job.error:
                line += f"\terror={job.error}"
            print(line)
        return 0

    return asyncio.run(run())


def cmd_worker(args: argparse.Namespace) -> int:
    """Run job workers without serving HTTP, until SIGINT or SIGTERM."""
    # Only the worker needs the whole app; `mhc jobs` stays a light database client.
    from server.app import create_app

    cfg = _config()
    if not cfg.redis_url:
        print("configuration error: REDIS_URL must be set", file=sys.stderr)
        return 2
    # This process is the worker, whatever MHC_JOBS_WORKER says for `mhc serve`.
    app = create_app(dataclasses.replace(cfg, env={**cfg.env, "MHC_JOBS_WORKER": "on"}))

    async def run() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print("worker running; stop with Ctrl-C", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `jobs` and `worker` to the `mhc` parser."""
    jobs = sub.add_parser("jobs", help="list queued, running and failed jobs; retry a failed one")
    jobs.add_argument("--limit", type=int, default=200)
    jobs.set_defaults(func=cmd_jobs, jobs_cmd=None)
    jobs_sub = jobs.add_subparsers(dest="jobs_cmd")
    retry = jobs_sub.add_parser("retry", help="queue a failed job again")
    retry.add_argument("id", type=int)
    sub.add_parser("worker", help="run job workers without serving HTTP").set_defaults(
        func=cmd_worker
    )
