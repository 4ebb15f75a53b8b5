"""The double-entry ledger: accounts, transfers, statements, payouts, and the on-chain mirror.

The public API other packages use (and nothing else of this package):

- `post(app, Posting(...), conn=None) -> Posted`: apply linked transfers (`Leg`, `Resolve`)
  atomically and idempotently by their ids (`leg_id(...)` derives one from what caused it).
- `post_later(app, conn, posting)`: the same, once the caller's transaction commits.
- `ticket_paid(app, conn, TicketSale(...))`, `ticket_reversed(app, conn, TicketReversal(...))`:
  ticketing's hand-over, inside its own transaction.
- `tip(...)`, `royalty(...)`: the postings of a fan's tip (artist, platform and processing
  legs; a subscription's paid invoice posts as one) and of a DSP's royalty line;
  `tip_reversed(app, conn, TipReversal(...))` reverses a tip once the caller commits.
- `payouts.PayoutMethod`, `payouts.add_method(app, method)`, `payouts.settle(...)`: how a
  payout method (SEPA here; others at their setup) plugs in.
- `mirror`: the `chain` payout method, paying withdrawals through the RoyaltyMirror contract.
- Accounts are named `Account(code, owner)`; `accounts.KINDS` is the chart.
"""

from __future__ import annotations

from aiohttp import web

from ledger import chain_routes, config, mirror, outbox, payouts, postings, routes, sepa, tickets
from ledger.accounts import Account
from ledger.errors import LedgerError
from ledger.keys import LEDGER_CONFIG
from ledger.outbox import TipReversal, post_later, royalty, tip, tip_reversed
from ledger.postings import Leg, Posted, Posting, Resolve, Transfer, leg_id, post
from ledger.tickets import TicketReversal, TicketSale, ticket_paid, ticket_reversed
from server import jobs
from server.jobs.registry import every
from server.keys import CONFIG

__all__ = [
    "Account",
    "LedgerError",
    "Leg",
    "Posted",
    "Posting",
    "Resolve",
    "TicketReversal",
    "TicketSale",
    "TipReversal",
    "Transfer",
    "leg_id",
    "post",
    "post_later",
    "royalty",
    "setup",
    "ticket_paid",
    "ticket_reversed",
    "tip",
    "tip_reversed",
]


def setup(app: web.Application) -> None:
    """Validate the ledger's config and plug its routes, jobs and release schedule in."""
    cfg = config.load(app[CONFIG])
    app[LEDGER_CONFIG] = cfg
    app[postings.KNOWN_ACCOUNTS] = set()
    app[postings.BATCHER] = postings.Batcher(app)
    app[sepa.DEBTOR] = sepa.load_debtor(app[CONFIG])
    payouts.add_method(app, sepa.Sepa())
    app.router.add_routes(routes.routes)
    app.router.add_routes(chain_routes.routes)
    jobs.register(app, outbox.POST_JOB, outbox.post_job)
    jobs.register(app, outbox.TIP_REVERSAL_JOB, outbox.tip_reversal_job)
    jobs.register(app, tickets.SALE_JOB, tickets.sale_job)
    jobs.register(app, tickets.REVERSAL_JOB, tickets.reversal_job)
    mirror.setup(app)
    jobs.schedule(app, "ledger.release", every(cfg.release_seconds), tickets.release_job)
