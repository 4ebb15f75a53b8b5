"""Ingesting a royalty report: parse, check, record its lines once each, and post per artist
and store the gross (converted to minor units once) less the platform fee, all in one
transaction; a file that breaks a rule is recorded as rejected with the reason, nothing else."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from aiohttp import web

import ledger
from distribution import releases
from distribution.keys import DIST_CONFIG
from distribution.royalties import parse as parsing
from distribution.royalties import store
from server.keys import DB

log = logging.getLogger(__name__)
_NS = uuid.UUID("4b0b8f0e-5a0a-4d43-9a53-6a3c1f1d2e71")
# ISO 4217 minor unit exponents that are not 2.
EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


@dataclass(frozen=True)
class IngestResult:
    """What became of a report file."""

    report_id: uuid.UUID
    dsp: str
    state: str  # posted | rejected
    reason: str | None
    lines: int
    new_lines: int
    duplicate_lines: int
    unknown_isrcs: list[str]
    already_seen: bool = False


def minor_units(amount: Decimal, currency: str) -> int:
    """An exact amount in the currency's minor units, rounded half to even once."""
    exp = EXPONENTS.get(currency, 2)
    return int((amount * (10**exp)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def platform_fee(gross: int, bps: int) -> int:
    """The platform's share of `gross` (basis points), rounded half up to a minor unit."""
    return (gross * bps + 5_000) // 10_000


def _result(r: store.StoredReport, seen: bool) -> IngestResult:
    return IngestResult(
        r.id,
        r.dsp,
        r.state,
        r.reason,
        r.lines,
        r.new_lines,
        r.duplicate_lines,
        r.unknown_isrcs,
        seen,
    )


def _decode(data: bytes) -> str:
    text = data.decode("utf-8")  # UnicodeDecodeError: refused by the caller
    return text.removeprefix("\ufeff")


async def ingest_file(app: web.Application, dsp: str | None, path: Path) -> IngestResult:
    """Ingest one report file (DSR or CSV) from `dsp` (None: the store the file names)."""
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(None, path.read_bytes)
    return await ingest_bytes(app, dsp, path.name, data)


async def ingest_bytes(
    app: web.Application, dsp: str | None, name: str, data: bytes
) -> IngestResult:
    """`ingest_file` of content already read."""
    sha = hashlib.sha256(data).hexdigest()
    pool = app[DB]
    async with pool.acquire() as conn:
        seen = await store.by_hash(conn, sha)
    if seen is not None:
        return _result(seen, True)
    fmt = "dsr" if data.startswith(b"HEAD") else "csv"
    loop = asyncio.get_running_loop()
    try:
        text = _decode(data)
        report = await loop.run_in_executor(None, parsing.parse, text)
    except UnicodeDecodeError as exc:
        return await _reject(app, dsp, name, sha, fmt, f"not UTF-8 (byte {exc.start})")
    except parsing.ReportError as exc:
        return await _reject(app, dsp, name, sha, fmt, str(exc))
    store_code = (dsp or report.store or "unknown").lower()
    bps = app[DIST_CONFIG].platform_fee_bps
    report_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        if not await store.add_report(conn, report_id, store_code, name, sha, fmt, "posted"):
            found = await store.by_hash(conn, sha)
            assert found is not None
            return _result(found, True)
        owners = await releases.owners(conn, [line.isrc for line in report.lines])
        rows = []
        unknown: set[str] = set()
        for line in report.lines:
            owner = owners.get(line.isrc)
            if owner is None:
                unknown.add(line.isrc or "(none)")
            rows.append(
                (
                    line.isrc,
                    line.territory,
                    line.use_type,
                    line.units,
                    line.gross,
                    line.currency,
                    None if owner is None else owner.release_id,
                    None if owner is None else owner.artist_id,
                )
            )
        new, new_count = await store.add_lines(
            conn, report_id, store_code, report.period_start, report.period_end, rows
        )
        sums: dict[tuple[uuid.UUID, str], Decimal] = defaultdict(Decimal)
        for n in new:
            sums[(n.artist_id, n.currency)] += n.gross
        for (artist_id, currency), exact in sorted(sums.items()):
            gross = minor_units(exact, currency)
            if gross <= 0:
                continue  # returns and adjustments net to nothing owed this time
            fee = platform_fee(gross, bps)
            posting_id = uuid.uuid5(_NS, f"{report_id}:{artist_id}:{currency}")
            await store.add_posting(
                conn, posting_id, report_id, artist_id, store_code, currency, gross, fee
            )
            await ledger.post_later(
                app, conn, ledger.royalty(posting_id, artist_id, store_code, currency, gross, fee)
            )
        stored = await store.finish_report(
            conn, report_id, len(report.lines), new_count, sorted(unknown)
        )
    if unknown:
        log.warning(
            "report %s from %s: %d unknown ISRCs (%s)",
            name,
            store_code,
            len(unknown),
            ", ".join(sorted(unknown)[:10]),
        )
    return _result(stored, False)


async def _reject(
    app: web.Application, dsp: str | None, name: str, sha: str, fmt: str, reason: str
) -> IngestResult:
    log.warning("report %s rejected: %s", name, reason)
    report_id = uuid.uuid4()
    async with app[DB].acquire() as conn:
        if not await store.add_report(
            conn, report_id, (dsp or "unknown").lower(), name, sha, fmt, "rejected", reason
        ):
            found = await store.by_hash(conn, sha)
            assert found is not None
            return _result(found, True)
    return IngestResult(report_id, (dsp or "unknown").lower(), "rejected", reason, 0, 0, 0, [])
