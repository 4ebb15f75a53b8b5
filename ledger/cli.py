"""`mhc ledger check`: recompute every balance from the transfers; exit 1 on any mismatch."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import asyncpg

from ledger.check import check
from server.clitools import config_or_exit, require_services


def add_parser(sub: Any) -> None:
    """Register `mhc ledger` and its subcommands."""
    parser = sub.add_parser("ledger", help="the double-entry ledger")
    cmds = parser.add_subparsers(dest="ledger_cmd", required=True)
    cmds.add_parser("check", help="recompute every balance from the transfers")
    parser.set_defaults(func=run)


async def _check(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        found = await check(conn)
        took = time.monotonic() - started
        transfers = await conn.fetchval("SELECT count(*) FROM ledger_transfers")
    finally:
        await conn.close()
    for m in found:
        print(
            f"MISMATCH {m.what}: stored (debits pending, posted, credits pending, posted) "
            f"{m.stored}, from transfers {m.expected}"
        )
    print(
        f"{transfers} transfers checked in {took:.2f} s: "
        f"{'OK' if not found else f'{len(found)} mismatches'}"
    )
    return 1 if found else 0


def run(args: argparse.Namespace) -> int:
    """Entry point of `mhc ledger …`."""
    cfg = config_or_exit()
    require_services(cfg, redis=False)
    assert cfg.database_url is not None
    return asyncio.run(_check(cfg.database_url))
