"""`mhc deliveries`: the DSP batches and their states; `mhc deliveries redeliver DSP`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import asyncpg

from server.clitools import config_or_exit, require_services


def add_parser(sub: Any) -> None:
    """Register `mhc deliveries`."""
    parser = sub.add_parser("deliveries", help="deliveries to the DSPs over SFTP")
    cmds = parser.add_subparsers(dest="deliveries_cmd")
    listing = cmds.add_parser("list", help="the latest batches and their deliveries")
    listing.add_argument("--limit", type=int, default=50)
    again = cmds.add_parser("redeliver", help="queue a DSP's failed batches again")
    again.add_argument("dsp", help="the DSP's code, e.g. spotify")
    parser.set_defaults(func=run, deliveries_cmd="list", limit=50)


def run(args: argparse.Namespace) -> int:
    """List the batches, or queue a DSP's failed ones again."""
    # The app's registry knows the delivery job and reads the DSP targets; nothing starts.
    from distribution import delivery, delivery_store
    from server.app import create_app

    cfg = config_or_exit()
    require_services(cfg, redis=False)
    app = create_app(cfg)

    async def go() -> int:
        conn = await asyncpg.connect(cfg.database_url)
        try:
            if args.deliveries_cmd == "redeliver":
                try:
                    async with conn.transaction():
                        ids = await delivery.redeliver(app, conn, args.dsp)
                except delivery.DeliveryError as exc:
                    print(str(exc), file=sys.stderr)
                    return 1
                print(f"{len(ids)} failed batch(es) of {args.dsp} queued again: {' '.join(ids)}")
                return 0
            batches = await delivery_store.listing(conn, args.limit)
        finally:
            await conn.close()
        if not batches:
            print("no deliveries")
        for b in batches:
            print(f"{b.dsp}\t{b.id}\t{b.state}\tattempts={len(b.attempts)}\t{b.reason or ''}")
            for d in b.deliveries:
                print(f"\t{d.release_id}\t{d.message_id}\t{d.kind}\t{d.state}")
        return 0

    return asyncio.run(go())
