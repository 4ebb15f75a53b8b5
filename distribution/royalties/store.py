"""The royalty tables: reports, their lines (by natural key) and the postings made."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg


@dataclass(frozen=True)
class StoredReport:
    """A report as recorded."""

    id: uuid.UUID
    dsp: str
    file_name: str
    format: str
    state: str
    reason: str | None
    lines: int
    new_lines: int
    duplicate_lines: int
    unknown_isrcs: list[str]


@dataclass(frozen=True)
class NewLine:
    """A line inserted by this report (not seen before) with its owner."""

    artist_id: uuid.UUID
    currency: str
    gross: Decimal


@dataclass(frozen=True)
class ArtistLine:
    """An artist's usage of one release in one store and territory over a month."""

    store: str
    release_id: uuid.UUID
    isrc: str
    territory: str
    currency: str
    units: Decimal
    gross: Decimal


_REPORT = """id, dsp, file_name, format, state, reason, lines, new_lines, duplicate_lines,
    unknown_isrcs"""


def _report(r: asyncpg.Record) -> StoredReport:
    return StoredReport(
        r["id"],
        r["dsp"],
        r["file_name"],
        r["format"],
        r["state"],
        r["reason"],
        r["lines"],
        r["new_lines"],
        r["duplicate_lines"],
        list(r["unknown_isrcs"]),
    )


async def by_hash(conn: asyncpg.Connection, sha256: str) -> StoredReport | None:
    """The report of this content, if it was seen."""
    row = await conn.fetchrow(
        f"SELECT {_REPORT} FROM distribution_royalty_reports WHERE sha256 = $1", sha256
    )
    return None if row is None else _report(row)


async def add_report(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    dsp: str,
    file_name: str,
    sha256: str,
    fmt: str,
    state: str,
    reason: str | None = None,
) -> bool:
    """Record a report; False if its content was recorded already."""
    done = await conn.execute(
        """INSERT INTO distribution_royalty_reports (id, dsp, file_name, sha256, format, state,
               reason) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING""",
        report_id,
        dsp,
        file_name,
        sha256,
        fmt,
        state,
        reason,
    )
    return bool(done == "INSERT 0 1")


async def finish_report(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    lines: int,
    new_lines: int,
    unknown: Sequence[str],
) -> StoredReport:
    """Store the counts of an ingested report."""
    row = await conn.fetchrow(
        f"""UPDATE distribution_royalty_reports SET lines = $2::int, new_lines = $3::int,
               duplicate_lines = $2::int - $3::int, unknown_isrcs = $4 WHERE id = $1 RETURNING {_REPORT}""",
        report_id,
        lines,
        new_lines,
        list(unknown),
    )
    return _report(row)


async def add_lines(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    dsp: str,
    start: dt.date,
    end: dt.date,
    rows: Sequence[tuple[str, str, str, Decimal, Decimal, str, uuid.UUID | None, uuid.UUID | None]],
) -> tuple[list[NewLine], int]:
    """Insert lines (isrc, territory, use, units, gross, currency, release, artist) not seen
    before under their natural key; returns the new ones that belong to an artist, and how
    many were new."""
    await conn.execute(
        """CREATE TEMP TABLE IF NOT EXISTS distribution_incoming_lines (
               isrc text, territory text, use_type text, units numeric, gross numeric,
               currency text, release_id uuid, artist_id uuid) ON COMMIT DELETE ROWS"""
    )
    await conn.copy_records_to_table("distribution_incoming_lines", records=rows)
    found = await conn.fetch(
        """INSERT INTO distribution_royalty_lines (natural_key, report_id, dsp, period_start,
               period_end, isrc, territory, use_type, units, gross, currency, release_id,
               artist_id)
           SELECT concat_ws('|', $2::text, $3::date, $4::date, isrc, territory, use_type,
                            currency),
                  $1, $2, $3, $4, isrc, territory, use_type, units, gross, currency,
                  release_id, artist_id
           FROM distribution_incoming_lines
           ON CONFLICT (natural_key) DO NOTHING
           RETURNING artist_id, currency, gross""",
        report_id,
        dsp,
        start,
        end,
    )
    owned = [
        NewLine(r["artist_id"], r["currency"].strip(), r["gross"]) for r in found if r["artist_id"]
    ]
    return owned, len(found)


async def add_posting(
    conn: asyncpg.Connection,
    posting_id: uuid.UUID,
    report_id: uuid.UUID,
    artist_id: uuid.UUID,
    dsp: str,
    currency: str,
    gross: int,
    fee: int,
) -> None:
    """Record what was posted for an artist from a report."""
    await conn.execute(
        """INSERT INTO distribution_royalty_postings (id, report_id, artist_id, dsp, currency,
               gross, platform_fee, artist_share)
               VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint, $6::bigint - $7::bigint)""",
        posting_id,
        report_id,
        artist_id,
        dsp,
        currency,
        gross,
        fee,
    )


async def artist_lines(
    conn: asyncpg.Connection, artist_id: uuid.UUID, start: dt.date, end: dt.date
) -> list[ArtistLine]:
    """An artist's lines whose period starts in [start, end), per store, release, territory."""
    rows = await conn.fetch(
        """SELECT dsp, release_id, isrc, territory, currency, sum(units) AS units,
                  sum(gross) AS gross
           FROM distribution_royalty_lines
           WHERE artist_id = $1 AND period_start >= $2 AND period_start < $3
           GROUP BY dsp, release_id, isrc, territory, currency
           ORDER BY dsp, isrc, territory, currency""",
        artist_id,
        start,
        end,
    )
    return [
        ArtistLine(
            r["dsp"],
            r["release_id"],
            r["isrc"],
            r["territory"],
            r["currency"].strip(),
            r["units"],
            r["gross"],
        )
        for r in rows
    ]
