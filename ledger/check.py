"""Recompute every balance from the transfers and compare it with the stored balances."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Mismatch:
    """One balance row (or one currency's total) that does not match its transfers."""

    what: str
    stored: tuple[int, int, int, int]
    expected: tuple[int, int, int, int]


# Each (account, shard)'s balances as its transfers say they must be: the `expected` CTE.
EXPECTED = """
WITH sides AS (
    SELECT t.debit_account_id AS account_id,
           CASE WHEN a.shards = 1 THEN 0 ELSE t.shard % a.shards END AS shard,
           true AS debit, t.kind, t.amount
    FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.debit_account_id
    UNION ALL
    SELECT t.credit_account_id,
           CASE WHEN a.shards = 1 THEN 0 ELSE t.shard % a.shards END,
           false, t.kind, t.amount
    FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.credit_account_id
), expected AS (
    SELECT account_id, shard,
           coalesce(sum(CASE kind WHEN 'pending' THEN amount WHEN 'posted' THEN 0
                        ELSE -amount END) FILTER (WHERE debit), 0) AS dpe,
           coalesce(sum(amount) FILTER (WHERE debit AND kind IN ('posted', 'post_pending')), 0)
               AS dpo,
           coalesce(sum(CASE kind WHEN 'pending' THEN amount WHEN 'posted' THEN 0
                        ELSE -amount END) FILTER (WHERE NOT debit), 0) AS cpe,
           coalesce(sum(amount) FILTER (WHERE NOT debit AND kind IN ('posted', 'post_pending')),
                    0) AS cpo
    FROM sides GROUP BY account_id, shard
)
"""

_RECOMPUTE = (
    EXPECTED
    + """SELECT coalesce(b.account_id, e.account_id)::text || '/' || coalesce(b.shard, e.shard) AS what,
       coalesce(b.debits_pending, 0) AS s_dpe, coalesce(b.debits_posted, 0) AS s_dpo,
       coalesce(b.credits_pending, 0) AS s_cpe, coalesce(b.credits_posted, 0) AS s_cpo,
       coalesce(e.dpe, 0) AS e_dpe, coalesce(e.dpo, 0) AS e_dpo,
       coalesce(e.cpe, 0) AS e_cpe, coalesce(e.cpo, 0) AS e_cpo
FROM ledger_balances b FULL JOIN expected e USING (account_id, shard)
WHERE (coalesce(b.debits_pending, 0), coalesce(b.debits_posted, 0),
       coalesce(b.credits_pending, 0), coalesce(b.credits_posted, 0))
   IS DISTINCT FROM (coalesce(e.dpe, 0), coalesce(e.dpo, 0), coalesce(e.cpe, 0),
                     coalesce(e.cpo, 0))
LIMIT 1000
"""
)

# Per currency, all debits equal all credits (the sum of the balances is zero).
_TOTALS = """
SELECT a.currency, sum(b.debits_pending) AS dpe, sum(b.debits_posted) AS dpo,
       sum(b.credits_pending) AS cpe, sum(b.credits_posted) AS cpo
FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
GROUP BY a.currency
HAVING sum(b.debits_pending) <> sum(b.credits_pending)
    OR sum(b.debits_posted) <> sum(b.credits_posted)
"""


# Rewrites every balance row from the transfers (for bulk loads that bypass the trigger).
_REBUILD = (
    EXPECTED
    + """
UPDATE ledger_balances b
SET debits_pending = e.dpe, debits_posted = e.dpo, credits_pending = e.cpe, credits_posted = e.cpo
FROM expected e WHERE b.account_id = e.account_id AND b.shard = e.shard
"""
)


async def rebuild_balances(conn: asyncpg.Connection) -> None:
    """Set every balance row to what its transfers say, after a bulk load without triggers."""
    await conn.execute(_REBUILD)


async def check(conn: asyncpg.Connection) -> list[Mismatch]:
    """Every stored balance that differs from its transfers, and every unbalanced currency;
    read in one snapshot, so concurrent postings cannot cause false alarms."""
    out: list[Mismatch] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        for r in await conn.fetch(_RECOMPUTE):
            out.append(
                Mismatch(
                    f"balance {r['what']}",
                    (r["s_dpe"], r["s_dpo"], r["s_cpe"], r["s_cpo"]),
                    (r["e_dpe"], r["e_dpo"], r["e_cpe"], r["e_cpo"]),
                )
            )
        for r in await conn.fetch(_TOTALS):
            out.append(
                Mismatch(
                    f"currency {r['currency'].strip()}",
                    (r["dpe"], r["dpo"], 0, 0),
                    (r["cpe"], r["cpo"], 0, 0),
                )
            )
    return out
