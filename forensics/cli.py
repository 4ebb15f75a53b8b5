"""`mhc forensics …`: the daily steps for an external cron, and the offline verifier."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web


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
    bundle = cmds.add_parser("verify-bundle", help="verify an export bundle offline")
    bundle.add_argument("bundle")
    bundle.add_argument("--key", help="verifier key file obtained independently")
    parser.set_defaults(func=run)


async def _with_app(action: Callable[[web.Application], Awaitable[Any]]) -> Any:
    from server.app import create_app
    from server.cli import _config, _require_services

    cfg = _config()
    _require_services(cfg)
    # The CLI is the external cron: it must not also start the in-app scheduler, nor run
    # other packages' jobs.
    cfg = dataclasses.replace(
        cfg, env={**cfg.env, "MHC_FORENSIC_SCHEDULER": "off", "MHC_JOBS_WORKER": "off"}
    )
    runner = web.AppRunner(create_app(cfg))
    await runner.setup()
    try:
        return await action(runner.app)
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    """Dispatch a `mhc forensics` subcommand; exit 0 only when everything holds."""
    from forensics import scheduler, service

    cmd = args.forensics_cmd
    if cmd == "verify-bundle":
        from forensics.verify import main as verify_main

        return verify_main([args.bundle, *(["--key", args.key] if args.key else [])])
    if cmd == "checkpoint":
        result: Any = asyncio.run(_with_app(service.create_checkpoint))
        ok = True
    elif cmd == "verify":
        verification = asyncio.run(_with_app(lambda app: service.verify(app, args.first, args.last)))
        result, ok = verification.as_json(), verification.ok
    elif cmd == "export":
        result = asyncio.run(_with_app(lambda app: service.export(app, args.first, args.last)))
        ok = True
    else:
        result = asyncio.run(_with_app(scheduler.run_daily))
        ok = bool(result["verified"])
    json.dump(result, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0 if ok else 1
