"""SEPA credit transfers: artists register an IBAN; an operator exports the pending
withdrawals as one pain.001.001.03 file for the bank, then marks the batch paid or failed.

The platform's own account (the debtor) comes from MHC_SEPA_DEBTOR_NAME, MHC_SEPA_DEBTOR_IBAN
and MHC_SEPA_DEBTOR_BIC; without them no batch can be exported.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from aiohttp import web
from schwifty import BIC, IBAN
from sepaxml import SepaTransfer

from ledger import payouts
from ledger.errors import LedgerError
from ledger.payouts import Payout, PayoutMethod
from server import audit
from server.config import Config, ConfigError, env_value
from server.keys import CLOCK, DB

METHOD = "sepa"


@dataclass(frozen=True)
class Debtor:
    """The platform's account the transfers are paid from."""

    name: str
    iban: str
    bic: str


DEBTOR: web.AppKey[Debtor | None] = web.AppKey("ledger_sepa_debtor")


def load_debtor(cfg: Config) -> Debtor | None:
    """The debtor from the environment; None when not configured, ConfigError when wrong."""
    values = [
        env_value(cfg.env, n)
        for n in ("MHC_SEPA_DEBTOR_NAME", "MHC_SEPA_DEBTOR_IBAN", "MHC_SEPA_DEBTOR_BIC")
    ]
    if not any(values):
        return None
    if not all(values):
        raise ConfigError("MHC_SEPA_DEBTOR_NAME, _IBAN and _BIC are set together")
    try:
        iban, bic = IBAN(values[1]), BIC(values[2])
    except ValueError as exc:
        raise ConfigError(f"MHC_SEPA_DEBTOR_IBAN/_BIC: {exc}") from None
    return Debtor(values[0], iban.compact, bic.compact)


def parse_iban(text: str) -> IBAN:
    """A checked IBAN (country format and checksum) of a SEPA country, or LedgerError."""
    try:
        iban = IBAN(text)
    except ValueError as exc:
        raise LedgerError("invalid_iban", f"not a valid IBAN: {exc}") from None
    return iban


class Sepa(PayoutMethod):
    """Pays to the IBAN the artist registered."""

    name = METHOD

    async def destination(
        self, conn: asyncpg.Connection, artist_id: uuid.UUID, currency: str
    ) -> dict[str, Any]:
        if currency != "EUR":
            raise LedgerError("unsupported_currency", "SEPA transfers are in EUR")
        details = await conn.fetchval(
            "SELECT details FROM ledger_payout_accounts WHERE artist_id = $1 AND method = $2",
            artist_id,
            METHOD,
        )
        if details is None:
            raise LedgerError("no_payout_account", "register an IBAN before withdrawing by SEPA")
        return dict(details)

    async def reserved(self, app: web.Application, conn: asyncpg.Connection, p: Payout) -> None:
        """Nothing yet: an operator exports the pending payouts as a batch."""


async def register(
    app: web.Application, artist_id: uuid.UUID, iban_text: str, holder: str
) -> dict[str, Any]:
    """Set the artist's IBAN (replacing any earlier one); later withdrawals pay to it."""
    iban = parse_iban(iban_text)
    details = {"iban": iban.compact, "name": holder}
    bic = iban.bic
    if bic is not None:
        details["bic"] = str(bic)
    async with app[DB].acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO ledger_payout_accounts (artist_id, method, details, updated_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (artist_id, method)
               DO UPDATE SET details = EXCLUDED.details, updated_at = EXCLUDED.updated_at""",
            artist_id,
            METHOD,
            details,
            app[CLOCK].now(),
        )
        await audit.record(
            app, conn, "PAYOUT_ACCOUNT_SET", actor=artist_id, subject=artist_id, method=METHOD
        )
    return {"method": METHOD, "iban": _masked(iban.compact), "name": holder}


def _masked(iban: str) -> str:
    return iban[:4] + "*" * (len(iban) - 8) + iban[-4:]


@dataclass(frozen=True)
class Batch:
    """An exported batch of SEPA payouts."""

    id: uuid.UUID
    status: str
    currency: str
    total: int
    payouts: list[uuid.UUID]


async def export(app: web.Application, admin_id: uuid.UUID) -> tuple[Batch, str] | None:
    """Put every pending SEPA payout in a new batch and render it as pain.001; None when
    there is nothing to pay. The file is kept with the batch (the bank may need it again)."""
    debtor = app.get(DEBTOR)
    if debtor is None:
        raise LedgerError(
            "sepa_not_configured", "set MHC_SEPA_DEBTOR_NAME, _IBAN and _BIC to export SEPA batches"
        )
    batch_id = uuid.uuid4()
    async with app[DB].acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT id, amount, destination FROM ledger_payouts
               WHERE method = $1 AND status = 'pending' AND currency = 'EUR'
               ORDER BY created_at, id FOR UPDATE SKIP LOCKED""",
            METHOD,
        )
        if not rows:
            return None
        sepa = SepaTransfer(
            {
                "name": debtor.name,
                "IBAN": debtor.iban,
                "BIC": debtor.bic,
                "batch": True,
                "currency": "EUR",
            },
            clean=True,
        )
        today: date = app[CLOCK].now().date()
        for r in rows:
            dest = r["destination"]
            payment: dict[str, Any] = {
                "name": dest["name"],
                "IBAN": dest["iban"],
                "amount": int(r["amount"]),
                "execution_date": today,
                "description": f"MHC payout {r['id']}",
                "endtoend_id": r["id"].hex[:35],
            }
            if dest.get("bic"):
                payment["BIC"] = dest["bic"]
            sepa.add_payment(payment)
        xml = sepa.export(validate=True).decode()
        await conn.execute(
            """INSERT INTO ledger_payout_batches (id, method, currency, document, created_by,
                   created_at) VALUES ($1, $2, 'EUR', $3, $4, $5)""",
            batch_id,
            METHOD,
            xml,
            admin_id,
            app[CLOCK].now(),
        )
        ids = [r["id"] for r in rows]
        await conn.execute(
            "UPDATE ledger_payouts SET status = 'exported', batch_id = $2 WHERE id = ANY($1)",
            ids,
            batch_id,
        )
        await audit.record(
            app,
            conn,
            "PAYOUT_BATCH_EXPORTED",
            actor=admin_id,
            subject=batch_id,
            payouts=len(ids),
            total=sum(int(r["amount"]) for r in rows),
        )
    return Batch(batch_id, "exported", "EUR", sum(int(r["amount"]) for r in rows), ids), xml


async def document(app: web.Application, batch_id: uuid.UUID) -> str:
    """The pain.001 file of a batch."""
    async with app[DB].acquire() as conn:
        xml = await conn.fetchval(
            "SELECT document FROM ledger_payout_batches WHERE id = $1", batch_id
        )
    if xml is None:
        raise LedgerError("not_found", "batch not found")
    return str(xml)


async def settle_batch(
    app: web.Application, batch_id: uuid.UUID, paid: bool, admin_id: uuid.UUID
) -> list[Payout]:
    """The bank executed (or rejected) the batch: post (or void) every payout in it."""
    async with app[DB].acquire() as conn, conn.transaction():
        status = await conn.fetchval(
            """UPDATE ledger_payout_batches SET status = $2, settled_at = $3
               WHERE id = $1 AND status = 'exported' RETURNING status""",
            batch_id,
            "paid" if paid else "failed",
            app[CLOCK].now(),
        )
        if status is None:
            exists = await conn.fetchval(
                "SELECT status FROM ledger_payout_batches WHERE id = $1", batch_id
            )
            if exists is None:
                raise LedgerError("not_found", "batch not found")
            raise LedgerError("batch_settled", f"the batch is already {exists}")
        ids = await conn.fetch(
            "SELECT id FROM ledger_payouts WHERE batch_id = $1 ORDER BY id", batch_id
        )
        return [await payouts.settle(app, conn, r["id"], paid, admin_id) for r in ids]
