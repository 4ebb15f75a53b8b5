"""`mhc forensics …`: the daily steps for an external cron, and the offline verifier.

The commands run on a minimal context, not the app: a small database pool, the clock,
the configuration, the signing key, the bundle store and the log writer. They run no
migrations, need no Redis and start no other package's background work, so an
auditor's `verify` cannot expire seat holds or retry refunds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from forensics import config, scheduler, service
from forensics.checkpoint import load_key_file
from forensics.config import ForensicsConfig
from forensics.keys import EXPORTS, FCONFIG, SIGNER, WRITER
from forensics.worm import LocalWormStore
from forensics.writer import LogWriter
from server import db
from server.clitools import config_or_exit, fail, require_services
from server.clock import Clock
from server.config import Config, ConfigError
from server.keys import CLOCK, CONFIG, DB


def add_parser(sub: Any) -> None:
    """Register `mhc forensics` and its subcommands."""
    parser = sub.add_parser("forensics", help="audit trail: checkpoint, verify, export")
    cmds = parser.add_subparsers(dest="forensics_cmd", required=True)
    cmds.add_parser("checkpoint", help="sign a checkpoint of the whole log")
    verify = cmds.add_parser("verify", help="verify the stored chain")
    verify.add_argument("--first", type=int, default=1)
    verify.add_argument("--last", type=int)
    export = cmds.add_parser("export", help="export a range to write-once storage")
    export.add_argument("--first", type=int, required=True)
    export.add_argument("--last", type=int)
    cmds.add_parser("daily", help="checkpoint + verify + export what is new (the daily job)")
    cmds.add_parser(
        "build-tiles",
        help="cover the log with Merkle tiles (resumable) and check every signed checkpoint",
    )
    bundle = cmds.add_parser("verify-bundle", help="verify an export bundle offline")
    bundle.add_argument("bundle")
    bundle.add_argument("--key", help="verifier key file obtained independently")
    bundle.add_argument("--log-url", help="the log's public /log prefix, to check against")
    bundle.add_argument("--tsa-certs", help="the TSA's PEM certificates, obtained independently")
    bundle.add_argument("--jobs", type=int, help="processes hashing records (default: auto)")
    bundle.add_argument(
        "--check-form", action="store_true", help="re-encode every record line (slower)"
    )
    parser.set_defaults(func=run)


class NotMigrated(Exception):
    """The database lacks the audit trail's tables: `mhc migrate` has not run."""


def _settings() -> tuple[Config, ForensicsConfig]:
    """Read and check the settings the commands need, or exit 2 saying what is missing."""
    cfg = config_or_exit()
    require_services(cfg, redis=False)
    try:
        fcfg = config.load(cfg)
    except ConfigError as exc:
        fail(f"configuration error: {exc}")
    if not fcfg.key_path.is_file():
        # Only the app creates the key: one made here would match no published verifier key.
        fail(
            f"no forensic signing key at {fcfg.key_path}: start the app once, or set "
            "MHC_FORENSIC_KEY to the key's file"
        )
    return cfg, fcfg


@asynccontextmanager
async def tool_context(cfg: Config, fcfg: ForensicsConfig) -> AsyncIterator[web.Application]:
    """Yield an unstarted app holding only what the audit trail's services read."""
    assert cfg.database_url is not None
    ctx = web.Application()
    ctx[CONFIG], ctx[CLOCK], ctx[FCONFIG] = cfg, Clock(), fcfg
    ctx[SIGNER] = load_key_file(fcfg.key_path)
    ctx[EXPORTS] = LocalWormStore(fcfg.export_dir)
    pool = await db.create_pool(cfg.database_url, min_size=1, max_size=4)
    try:
        pending = await db.pending_migrations(pool, "forensics")
        if pending:
            raise NotMigrated(f"the database lacks {', '.join(pending)}: run `mhc migrate` first")
        ctx[DB] = pool
        writer = LogWriter(pool, ctx[CLOCK], log_dir=fcfg.log_dir)
        writer.start()
        ctx[WRITER] = writer
        try:
            yield ctx
        finally:
            await writer.stop()
    finally:
        await pool.close()


async def _command(args: argparse.Namespace, cfg: Config, fcfg: ForensicsConfig) -> Any:
    """Run one subcommand on a tool context; return its JSON result."""
    async with tool_context(cfg, fcfg) as ctx:
        cmd = args.forensics_cmd
        if cmd == "checkpoint":
            return await service.create_checkpoint(ctx)
        if cmd == "verify":
            return await service.verify(ctx, args.first, args.last)
        if cmd == "export":
            return await service.export(ctx, args.first, args.last)
        if cmd == "build-tiles":
            return await service.build_tiles(ctx)
        return await scheduler.run_daily(ctx)


def run(args: argparse.Namespace) -> int:
    """Dispatch a `mhc forensics` subcommand; exit 0 only when everything holds."""
    if args.forensics_cmd == "verify-bundle":
        from forensics.verify import main as verify_main

        extra = [
            *(["--key", args.key] if args.key else []),
            *(["--log-url", args.log_url] if args.log_url else []),
            *(["--tsa-certs", args.tsa_certs] if args.tsa_certs else []),
            *(["--jobs", str(args.jobs)] if args.jobs is not None else []),
            *(["--check-form"] if args.check_form else []),
        ]
        return verify_main([args.bundle, *extra])
    cfg, fcfg = _settings()
    try:
        result = asyncio.run(_command(args, cfg, fcfg))
    except NotMigrated as exc:
        fail(str(exc))
    except service.RangeError as exc:
        fail(f"bad range: {exc}")
    ok = True
    if isinstance(result, service.Verification):
        ok, result = result.ok, result.as_json()
    elif args.forensics_cmd == "daily":
        ok = bool(result["verified"])
    elif args.forensics_cmd == "build-tiles":
        ok = not result["checkpoints_mismatched"]
    json.dump(result, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0 if ok else 1
