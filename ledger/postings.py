"""`post`: the one way money moves, as linked transfers applied all together or not at all.

A posting names its legs by caller-chosen ids derived from what caused them (a ticket id and
the leg's role), so the same posting sent twice (a retried job, a replayed webhook) changes
nothing and returns what the first one wrote; the same id with different fields is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from ledger import accounts
from ledger.accounts import Account
from ledger.errors import LedgerError
from server import audit
from server.keys import DB

log = logging.getLogger(__name__)

# A sum no single posting may exceed (10 billion in a two-decimal currency): larger is a bug.
MAX_AMOUNT = 1_000_000_000_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SOURCE = re.compile(r"^[a-z_]+(:[A-Za-z0-9_.:-]{1,100})?$")
# A transfer's shard picks one of a platform account's balance rows.
_SHARDS = 64
BATCHER: web.AppKey[Batcher] = web.AppKey("ledger_batcher")
# Accounts known to exist in this app's database (accounts are never deleted).
KNOWN_ACCOUNTS: web.AppKey[set[uuid.UUID]] = web.AppKey("ledger_known_accounts")


@dataclass(frozen=True)
class Leg:
    """Move `amount` minor units from `debit` to `credit`; `pending` reserves it instead,
    until a later `Resolve` posts or voids it."""

    id: uuid.UUID
    debit: Account
    credit: Account
    amount: int
    pending: bool = False


@dataclass(frozen=True)
class Resolve:
    """Post (`post=True`) or void a pending leg, under a new transfer id."""

    id: uuid.UUID
    pending_id: uuid.UUID
    post: bool


@dataclass(frozen=True)
class Posting:
    """Legs that stand or fall together, all in one currency.

    `code` says why (ticket_sale, tip, royalty, payout, ...); `source` is the statement line
    the money belongs to (`event:<id>`, `tip`, `dsp:<name>`); `ref` names the originating
    object (a ticket id, a payout id).
    """

    currency: str
    code: str
    source: str
    legs: tuple[Leg | Resolve, ...]
    ref: str = ""
    actor: uuid.UUID | None = None


@dataclass(frozen=True)
class Transfer:
    """One applied leg as stored."""

    id: uuid.UUID
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    currency: str
    kind: str
    pending_id: uuid.UUID | None
    code: str
    source: str
    ref: str
    created_at: datetime


@dataclass(frozen=True)
class Posted:
    """The outcome of `post`: the transfers, and whether this call wrote them."""

    posting_id: uuid.UUID
    transfers: tuple[Transfer, ...]
    created: bool = field(default=True)


def leg_id(*parts: object) -> uuid.UUID:
    """A transfer id derived from what caused it (e.g. the ticket id and the leg's role)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "mhc-ledger:" + ":".join(str(p) for p in parts))


def validate(posting: Posting) -> None:
    """Refuse a malformed posting before anything is written."""
    if not isinstance(posting.currency, str) or not _CURRENCY.match(posting.currency):
        raise LedgerError("invalid_currency", "currency must be an ISO 4217 code like EUR")
    if not posting.legs:
        raise LedgerError("invalid_posting", "a posting needs at least one leg")
    if not _SOURCE.match(posting.source) or not re.match(r"^[a-z_]{1,40}$", posting.code):
        raise LedgerError("invalid_posting", "code and source must be short identifiers")
    ids = [leg.id for leg in posting.legs]
    if len(set(ids)) != len(ids):
        raise LedgerError("invalid_posting", "each leg needs its own id")
    for leg in posting.legs:
        if isinstance(leg, Resolve):
            continue
        amount = leg.amount
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise LedgerError("invalid_amount", "amounts are integers in minor units")
        if amount <= 0 or amount > MAX_AMOUNT:
            raise LedgerError("invalid_amount", f"amounts are between 1 and {MAX_AMOUNT}")
        if leg.debit == leg.credit:
            raise LedgerError("invalid_posting", "debit and credit accounts must differ")
        leg.debit.check()
        leg.credit.check()


def _shard(posting_id: uuid.UUID) -> int:
    # All legs of a posting use one shard: its locks are then taken on one row per account.
    return hashlib.blake2b(posting_id.bytes, digest_size=2).digest()[0] % _SHARDS


_COLUMNS = """id, debit_account_id, credit_account_id, amount, currency, kind, pending_id, code,
              source, ref, created_at"""


def _transfer(row: Any) -> Transfer:
    return Transfer(
        row["id"],
        row["debit_account_id"],
        row["credit_account_id"],
        int(row["amount"]),
        row["currency"].strip(),
        row["kind"],
        row["pending_id"],
        row["code"],
        row["source"],
        row["ref"],
        row["created_at"],
    )


@asynccontextmanager
async def _connection(
    app: web.Application, conn: asyncpg.Connection | None
) -> AsyncIterator[asyncpg.Connection]:
    if conn is not None:
        yield conn
    else:
        async with app[DB].acquire() as own:
            yield own


async def post(
    app: web.Application, posting: Posting, *, conn: asyncpg.Connection | None = None
) -> Posted:
    """Apply all legs of `posting` or none; idempotent by leg ids.

    With `conn`, the posting joins the caller's transaction (a savepoint); without, it shares
    a commit with postings made at the same moment (`Batcher`), or runs in its own
    transaction, retried when the database breaks a lock cycle. Raises LedgerError:
    `insufficient_funds` when a limit flag would be crossed, `conflict` when a leg id was
    already used for something else, `invalid_*` for malformed input.
    """
    validate(posting)
    await _ensure_accounts(app, conn, posting)
    batcher = app.get(BATCHER)
    if conn is None and batcher is not None and all(isinstance(x, Leg) for x in posting.legs):
        done = await batcher.submit(posting)
        if done is not None:
            return done
    for attempt in range(8):
        try:
            async with _connection(app, conn) as c, c.transaction():
                return await _post(app, c, posting)
        except LedgerError as exc:
            if exc.code not in ("insufficient_funds", "already_resolved"):
                raise
            # A replay of a posting that was applied is answered as such, even when the same
            # legs would not fit any more.
            async with _connection(app, conn) as c:
                found = await _replayed(c, posting)
            if found is None:
                raise
            return found
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if conn is not None or attempt == 7:
                raise
        except asyncpg.UniqueViolationError:
            # A concurrent posting with these ids won: answer as a replay (or a conflict).
            async with _connection(app, conn) as c:
                found = await _replayed(c, posting)
            if found is not None:
                return found
            if attempt == 7:
                raise
    raise AssertionError("unreachable")


async def _replayed(conn: asyncpg.Connection, posting: Posting) -> Posted | None:
    ids = [leg.id for leg in posting.legs]
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM ledger_transfers WHERE id = ANY($1)", ids)
    if not rows:
        return None
    by_id = {r["id"]: _transfer(r) for r in rows}
    if len(by_id) != len(ids):
        raise LedgerError("conflict", "some of these transfer ids are already used")
    for leg in posting.legs:
        t = by_id[leg.id]
        same = (t.currency, t.code, t.source, t.ref) == (
            posting.currency,
            posting.code,
            posting.source,
            posting.ref,
        )
        if isinstance(leg, Resolve):
            same = (
                same
                and t.pending_id == leg.pending_id
                and t.kind == ("post_pending" if leg.post else "void_pending")
            )
        else:
            same = same and (t.debit_account_id, t.credit_account_id, t.amount, t.kind) == (
                leg.debit.id(posting.currency),
                leg.credit.id(posting.currency),
                leg.amount,
                "pending" if leg.pending else "posted",
            )
        if not same:
            raise LedgerError("conflict", f"transfer {leg.id} was posted with other fields")
    return Posted(posting.legs[0].id, tuple(by_id[i] for i in ids), created=False)


async def _ensure_accounts(
    app: web.Application, conn: asyncpg.Connection | None, posting: Posting
) -> None:
    """Create the posting's accounts that may not exist yet; remembered once committed."""
    cur, known = posting.currency, app[KNOWN_ACCOUNTS]
    wanted = sorted(
        {
            (a, cur)
            for leg in posting.legs
            if isinstance(leg, Leg)
            for a in (leg.debit, leg.credit)
            if a.id(cur) not in known
        },
        key=lambda w: str(w[0].id(cur)),
    )
    if not wanted:
        return
    if conn is not None:  # inside the caller's transaction: it may still roll back
        await accounts.ensure(conn, wanted)
        return
    async with app[DB].acquire() as own:
        await accounts.ensure(own, wanted)
    known.update(a.id(cur) for a, _ in wanted)


Row = tuple[
    uuid.UUID,
    uuid.UUID,
    uuid.UUID,
    int,
    str,
    "uuid.UUID | None",
    int,
    str,
    uuid.UUID,
    str,
    str,
    str,
]


async def _post(app: web.Application, conn: asyncpg.Connection, posting: Posting) -> Posted:
    pendings: dict[uuid.UUID, Any] = {}
    resolves = [leg for leg in posting.legs if isinstance(leg, Resolve)]
    if resolves:
        found = await conn.fetch(
            """SELECT p.id, p.debit_account_id, p.credit_account_id, p.amount, p.currency,
                      p.kind, p.shard, r.id AS resolved_by
               FROM ledger_transfers p LEFT JOIN ledger_transfers r ON r.pending_id = p.id
               WHERE p.id = ANY($1)""",
            [r.pending_id for r in resolves],
        )
        pendings = {r["id"]: r for r in found}
    rows = _rows(posting, pendings, None)
    await _record(app, conn, posting, rows)
    by_id = await _insert(conn, rows)
    return Posted(posting.legs[0].id, tuple(by_id[leg.id] for leg in posting.legs))


def _rows(posting: Posting, pendings: dict[uuid.UUID, Any], shard: int | None) -> list[Row]:
    """The transfer rows of a posting (its pending transfers' fields fill in resolutions)."""
    cur, posting_id = posting.currency, posting.legs[0].id
    s = _shard(posting_id) if shard is None else shard
    out: list[Row] = []
    for leg in posting.legs:
        if isinstance(leg, Resolve):
            p = pendings.get(leg.pending_id)
            if p is None or p["kind"] != "pending" or p["currency"].strip() != cur:
                raise LedgerError("not_found", f"no pending transfer {leg.pending_id} in {cur}")
            if p["resolved_by"] is not None and p["resolved_by"] != leg.id:
                raise LedgerError(
                    "already_resolved", f"pending transfer {leg.pending_id} is already resolved"
                )
            out.append(
                (
                    leg.id,
                    p["debit_account_id"],
                    p["credit_account_id"],
                    int(p["amount"]),
                    "post_pending" if leg.post else "void_pending",
                    leg.pending_id,
                    int(p["shard"]),
                    cur,
                    posting_id,
                    posting.code,
                    posting.source,
                    posting.ref,
                )
            )
        else:
            out.append(
                (
                    leg.id,
                    leg.debit.id(cur),
                    leg.credit.id(cur),
                    leg.amount,
                    "pending" if leg.pending else "posted",
                    None,
                    s,
                    cur,
                    posting_id,
                    posting.code,
                    posting.source,
                    posting.ref,
                )
            )
    return out


def _entry(posting: Posting, rows: list[Row]) -> audit.Entry:
    """The posting's forensic record."""
    return audit.Entry(
        "LEDGER_POSTED",
        actor=posting.actor,
        subject=posting.legs[0].id,
        data={
            "code": posting.code,
            "source": posting.source,
            "ref": posting.ref,
            "currency": posting.currency,
            "amount": sum(r[3] for r in rows),
            "legs": [str(r[0]) for r in rows],
        },
    )


async def _record(
    app: web.Application, conn: asyncpg.Connection, posting: Posting, rows: list[Row]
) -> None:
    """The posting's forensic record, queued in its transaction."""
    await audit.record_many(app, conn, [_entry(posting, rows)])


async def _insert(conn: asyncpg.Connection, rows: list[Row]) -> dict[uuid.UUID, Transfer]:
    """Insert transfer rows in one statement, in order (the trigger applies each)."""
    cols = [list(c) for c in zip(*rows, strict=True)]
    try:
        # Every row of a statement gets the same created_at (the transaction's time), so only
        # that comes back; the rest is what was sent.
        created = await conn.fetchval(
            """WITH ins AS (
                   INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount,
                       kind, pending_id, shard, currency, posting_id, code, source, ref)
                   SELECT u.id, u.d, u.c, u.a, u.k, u.p, u.s, u.cur, u.pid, u.code, u.src, u.ref
                   FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[],
                               $6::uuid[], $7::smallint[], $8::text[], $9::uuid[], $10::text[],
                               $11::text[], $12::text[]) WITH ORDINALITY
                        AS u(id, d, c, a, k, p, s, cur, pid, code, src, ref, n)
                   ORDER BY n
                   RETURNING created_at)
               SELECT max(created_at) FROM ins""",
            *cols,
        )
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name in ("ledger_debits_exceed_credits", "ledger_credits_exceed_debits"):
            raise LedgerError(
                "insufficient_funds", "the posting would overdraw an account"
            ) from None
        raise
    return {
        r[0]: Transfer(r[0], r[1], r[2], r[3], r[7], r[4], r[5], r[9], r[10], r[11], created)
        for r in rows
    }


class Batcher:
    """Group commit: postings that arrive together are applied in one transaction.

    Each posting still gets its own forensic record and its own transfers; what is shared is
    the commit (and its flush), which is what limits a busy ledger. A few flushers run at once,
    each with its own shard of the platform accounts (the transfer trigger locks balance rows
    in one global order, so flushers never wait on each other in a cycle). If a batch
    fails for any reason (a posting that does not fit, a replay), its postings are posted one
    by one instead, where each gets its own precise answer.
    """

    FLUSHERS = 4
    MAX_BATCH = 128

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._queue: list[tuple[Posting, asyncio.Future[Posted | None]]] = []
        self._flushers = 0
        self._next_shard = 0
        self._tasks: set[asyncio.Task[None]] = set()  # held, so none is collected mid-run

    async def submit(self, posting: Posting) -> Posted | None:
        """The posting applied with others; None when it must be posted alone."""
        future: asyncio.Future[Posted | None] = asyncio.get_running_loop().create_future()
        self._queue.append((posting, future))
        if self._flushers < self.FLUSHERS:
            self._flushers += 1
            self._next_shard = (self._next_shard + 1) % _SHARDS
            task = asyncio.get_running_loop().create_task(self._flush(self._next_shard))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _flush(self, shard: int) -> None:
        try:
            while self._queue:
                batch, self._queue = (self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :])
                await self._apply(batch, shard)
        finally:
            self._flushers -= 1
            if self._flushers == 0:  # the last one stopped early (the app stopping)
                stranded, self._queue = self._queue, []
                for _, future in stranded:
                    if not future.done():
                        future.set_result(None)  # posted alone by its caller

    async def _apply(
        self, batch: list[tuple[Posting, asyncio.Future[Posted | None]]], shard: int
    ) -> None:
        results: list[Posted | None] = [None] * len(batch)
        try:
            async with self._app[DB].acquire() as conn, conn.transaction():
                rows: list[Row] = []
                entries: list[audit.Entry] = []
                for posting, _ in batch:
                    mine = _rows(posting, {}, shard)
                    entries.append(_entry(posting, mine))
                    rows.extend(mine)
                # One round trip queues the whole batch's forensic records.
                await audit.record_many(self._app, conn, entries)
                by_id = await _insert(conn, rows)
            results = [
                Posted(p.legs[0].id, tuple(by_id[leg.id] for leg in p.legs)) for p, _ in batch
            ]
        except (asyncpg.PostgresError, asyncpg.InterfaceError, LedgerError, OSError) as exc:
            # Each posting is retried alone, for its own answer; had the batch committed
            # after all (a connection lost at commit), its ids make each retry a replay.
            log.debug("a batch of %d postings goes one by one: %s", len(batch), exc)
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
