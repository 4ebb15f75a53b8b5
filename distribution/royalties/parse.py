"""Royalty report parsers: DDEX DSR flat files and a simple per-store CSV, to usage lines.

Pure functions over text (no I/O), so the ingestion runs them in an executor and the
benchmark can time them alone. A file that breaks a rule raises ReportError with the reason.

DSR flat files (DDEX DSR Part 1/8, multi-record-block variant, Basic Audio Profile): one record
per line, tab-separated cells, the record type (with its version, e.g. SU02.03) first:
HEAD (usage period in cells 9-10), SYxx summaries (the sales context: commercial model, use
type, territory, currency and the summary's total revenue), blocks of RExx release, ASxx
resource (the ISRC) and SUxx sales/usage records (units and revenue), and FOOT (line, summary
and block counts). The cells read are named in LAYOUT.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from stdnum import isrc as isrc_code


class ReportError(Exception):
    """A report that cannot be taken as a whole; the message is the reason."""


@dataclass(frozen=True)
class UsageLine:
    """Usage of one recording in one territory and use, summed over the report."""

    isrc: str
    territory: str
    use_type: str
    units: Decimal
    gross: Decimal
    currency: str


@dataclass(frozen=True)
class Report:
    """A parsed report: the store (when it names itself), the period and its lines."""

    format: str
    store: str | None
    period_start: dt.date
    period_end: dt.date
    records: int
    lines: list[UsageLine]


# Record type -> cell positions (0-based) of what is read.
LAYOUT = {
    "HEAD": {"start": 8, "end": 9, "sender": 11},
    "SY": {"id": 1, "channel": 2, "model": 3, "use": 4, "territory": 5, "currency": 9, "total": 10},
    "AS": {"block": 1, "ref": 2, "isrc": 4},
    "SU": {"block": 1, "summary": 2, "release": 4, "resource": 5, "units": 7, "revenue": 8},
    "FOOT": {"lines": 1, "summaries": 3, "blocks": 4},
}


def _cell(cells: list[str], i: int, what: str, lineno: int) -> str:
    if i >= len(cells):
        raise ReportError(f"line {lineno}: {what} is missing")
    return cells[i]


def _decimal(text: str, what: str, lineno: int) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ReportError(f"line {lineno}: {what} {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ReportError(f"line {lineno}: {what} {text!r} is not a decimal number")
    return value


def _int(text: str, what: str, lineno: int) -> int:
    if not text.isdigit():
        raise ReportError(f"line {lineno}: {what} {text!r} is not a count")
    return int(text)


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


@functools.lru_cache(maxsize=1 << 16)
def _isrc(text: str) -> str:
    """The compact ISRC, or the text as given when it is not one (reported as unknown).
    A report names each recording once per territory and use: the check runs once."""
    compact = text.replace("-", "").strip().upper()
    return compact if isrc_code.is_valid(compact) else text.strip()


def _currency(text: str, lineno: int) -> str:
    if len(text) != 3 or not text.isalpha() or not text.isupper():
        raise ReportError(f"line {lineno}: currency {text!r} is not an ISO 4217 code")
    return text


class _Sums:
    """Usage summed by natural key within one report."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str, str, str], list[Decimal]] = {}

    def add(self, key: tuple[str, str, str, str], units: Decimal, gross: Decimal) -> None:
        found = self.by_key.get(key)
        if found is None:
            self.by_key[key] = [units, gross]
        else:
            found[0] += units
            found[1] += gross

    def lines(self) -> list[UsageLine]:
        return [
            UsageLine(isrc, territory, use, v[0], v[1], cur)
            for (isrc, territory, use, cur), v in self.by_key.items()
        ]


def parse_dsr(text: str) -> Report:
    """A DSR flat file; footer counts and each summary's total must match its records."""
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    if not raw or not raw[0].startswith("HEAD"):
        raise ReportError("the first record is not HEAD")
    head = raw[0].rstrip("\r").split("\t")
    h = LAYOUT["HEAD"]
    start = _date(_cell(head, h["start"], "UsageStartDate", 1), "UsageStartDate")
    end = _date(_cell(head, h["end"], "UsageEndDate", 1), "UsageEndDate")
    if end < start:
        raise ReportError("UsageEndDate is before UsageStartDate")
    sender = head[h["sender"]].strip() if len(head) > h["sender"] else ""
    sy, as_, su, ft = LAYOUT["SY"], LAYOUT["AS"], LAYOUT["SU"], LAYOUT["FOOT"]
    summaries: dict[str, tuple[str, str, str, Decimal]] = {}
    totals: dict[str, Decimal] = {}
    resources: dict[tuple[str, str], str] = {}
    block_isrcs: dict[str, list[str]] = {}
    blocks: set[str] = set()
    sums = _Sums()
    footer: list[str] | None = None
    for lineno, line in enumerate(raw[1:], 2):
        cells = line.rstrip("\r").split("\t")
        kind = cells[0][:4]
        if footer is not None:
            raise ReportError(f"line {lineno}: a record follows FOOT")
        if kind.startswith("SU"):
            block = cells[su["block"]] if len(cells) > su["block"] else ""
            summary = _cell(cells, su["summary"], "SummaryRecordId", lineno)
            context = summaries.get(summary)
            if context is None:
                raise ReportError(f"line {lineno}: unknown SummaryRecordId {summary!r}")
            resource = cells[su["resource"]] if len(cells) > su["resource"] else ""
            isrc = resources.get((block, resource), "")
            if not isrc:
                in_block = block_isrcs.get(block, [])
                isrc = in_block[0] if len(in_block) == 1 else ""
            units = _decimal(_cell(cells, su["units"], "usages", lineno), "usages", lineno)
            gross = _decimal(_cell(cells, su["revenue"], "revenue", lineno), "revenue", lineno)
            totals[summary] += gross
            sums.add((isrc, context[0], context[1], context[2]), units, gross)
        elif kind.startswith("AS"):
            block = _cell(cells, as_["block"], "BlockId", lineno)
            isrc = _isrc(_cell(cells, as_["isrc"], "ISRC", lineno))
            resources[(block, _cell(cells, as_["ref"], "ResourceReference", lineno))] = isrc
            block_isrcs.setdefault(block, []).append(isrc)
            blocks.add(block)
        elif kind.startswith("RE"):
            blocks.add(_cell(cells, 1, "BlockId", lineno))
        elif kind.startswith("SY"):
            sid = _cell(cells, sy["id"], "SummaryRecordId", lineno)
            if sid in summaries:
                raise ReportError(f"line {lineno}: SummaryRecordId {sid!r} is used twice")
            use = f"{_cell(cells, sy['model'], 'CommercialModel', lineno)}/" + _cell(
                cells, sy["use"], "UseType", lineno
            )
            territory = _cell(cells, sy["territory"], "Territory", lineno).strip() or "Worldwide"
            currency = _currency(_cell(cells, sy["currency"], "currency", lineno), lineno)
            total = _decimal(_cell(cells, sy["total"], "total", lineno), "total", lineno)
            summaries[sid] = (territory, use, currency, total)
            totals[sid] = Decimal(0)
            if not sender:
                sender = cells[sy["channel"]].strip() if len(cells) > sy["channel"] else ""
        elif kind == "FOOT":
            footer = cells
        elif kind == "HEAD":
            raise ReportError(f"line {lineno}: a second HEAD record")
        # other record types (licensor-specific, ignorable) are counted, not read
    if footer is None:
        raise ReportError("no FOOT record: the file is incomplete")
    lines_n = _int(
        _cell(footer, ft["lines"], "NumberOfLinesInFile", len(raw)), "line count", len(raw)
    )
    if lines_n != len(raw):
        raise ReportError(f"FOOT counts {lines_n} lines, the file has {len(raw)}")
    summaries_n = _int(
        _cell(footer, ft["summaries"], "NumberOfSummaryRecords", len(raw)),
        "summary count",
        len(raw),
    )
    if summaries_n != len(summaries):
        raise ReportError(
            f"FOOT counts {summaries_n} summary records, the file has {len(summaries)}"
        )
    blocks_n = _int(
        _cell(footer, ft["blocks"], "NumberOfBlocksInFile", len(raw)), "block count", len(raw)
    )
    if blocks_n != len(blocks):
        raise ReportError(f"FOOT counts {blocks_n} blocks, the file has {len(blocks)}")
    for sid, (_, _, _, total) in summaries.items():
        if totals[sid] != total:
            raise ReportError(
                f"summary {sid} totals {total}, its sales records add up to {totals[sid]}"
            )
    return Report("dsr", sender or None, start, end, len(raw), sums.lines())


CSV_COLUMNS = ("store", "period", "isrc", "territory", "units", "gross", "currency")


def _month(text: str, lineno: int) -> tuple[dt.date, dt.date]:
    try:
        start = dt.date.fromisoformat(text + "-01")
    except ValueError:
        raise ReportError(f"line {lineno}: period {text!r} is not YYYY-MM") from None
    after = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, after - dt.timedelta(days=1)


def parse_csv(text: str) -> Report:
    """A per-store CSV with the header store,period,isrc,territory,units,gross,currency."""
    rows: Iterable[list[str]] = csv.reader(io.StringIO(text))
    it = iter(rows)
    header = next(it, None)
    if header is None or tuple(c.strip().lower() for c in header) != CSV_COLUMNS:
        raise ReportError(f"the header must be {','.join(CSV_COLUMNS)}")
    sums = _Sums()
    store: str | None = None
    period: tuple[dt.date, dt.date] | None = None
    count = 1
    for lineno, row in enumerate(it, 2):
        count += 1
        if not row:
            continue
        if len(row) != len(CSV_COLUMNS):
            raise ReportError(f"line {lineno}: expected {len(CSV_COLUMNS)} cells, got {len(row)}")
        s, p, isrc, territory, units, gross, currency = (c.strip() for c in row)
        if store is None:
            store = s
        elif s != store:
            raise ReportError(f"line {lineno}: store {s!r} differs from {store!r}")
        this = _month(p, lineno)
        if period is None:
            period = this
        elif this != period:
            raise ReportError(f"line {lineno}: period {p} differs from the first line's")
        if not (len(territory) == 2 and territory.isalpha() and territory.isupper()):
            raise ReportError(f"line {lineno}: territory {territory!r} is not an ISO country code")
        sums.add(
            (_isrc(isrc), territory, "all", _currency(currency, lineno)),
            _decimal(units, "units", lineno),
            _decimal(gross, "gross", lineno),
        )
    if period is None:
        raise ReportError("the report has no lines")
    return Report("csv", store, period[0], period[1], count, sums.lines())


def parse(text: str) -> Report:
    """Either format, told apart by the first record."""
    return parse_dsr(text) if text.startswith("HEAD") else parse_csv(text)
