"""`mhc distribution ingest [--file F] [--dsp D]`: ingest royalty reports by hand."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from distribution.royalties import IngestResult, ingest_file
from distribution.royalties.monthly import fetch_and_ingest
from server.clitools import command_app, config_or_exit, require_services


def add_parser(sub: Any) -> None:
    """Register `mhc distribution` and its subcommands."""
    parser = sub.add_parser("distribution", help="label distribution")
    cmds = parser.add_subparsers(dest="distribution_cmd", required=True)
    ingest = cmds.add_parser("ingest", help="ingest royalty reports (fetched, or --file)")
    ingest.add_argument("--file", type=Path, action="append", help="a report file (repeatable)")
    ingest.add_argument("--dsp", help="the store the files come from (default: as named inside)")
    parser.set_defaults(func=run)


def _line(r: IngestResult) -> str:
    out = f"{r.state}: {r.dsp} report {r.report_id}"
    if r.already_seen:
        out += " (already ingested)"
    if r.reason:
        out += f": {r.reason}"
    else:
        out += f": {r.lines} lines, {r.new_lines} new, {r.duplicate_lines} already posted"
    if r.unknown_isrcs:
        out += f"; unknown ISRCs: {', '.join(r.unknown_isrcs)}"
    return out


async def _ingest(args: argparse.Namespace) -> int:
    cfg = config_or_exit()
    require_services(cfg)
    # The postings it queues run in the servers' workers.
    async with command_app(cfg) as app:
        if args.file:
            results = [await ingest_file(app, args.dsp, f) for f in args.file]
        else:
            results = await fetch_and_ingest(app)
    for r in results:
        print(_line(r))
    if not results:
        print("no report files")
    return 1 if any(r.state == "rejected" and not r.already_seen for r in results) else 0


def run(args: argparse.Namespace) -> int:
    """Entry point of `mhc distribution …`."""
    for f in args.file or []:
        if not f.is_file():
            print(f"no such file: {f}")
            return 2
    return asyncio.run(_ingest(args))
