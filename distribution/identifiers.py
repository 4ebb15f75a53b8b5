"""Codes: ISRC per recording and UPC/EAN-13 per release from PostgreSQL sequences, and the
ISWC an artist supplies (works codes come from collecting societies, never from a label)."""

from __future__ import annotations

import re

import asyncpg
from stdnum import ean, isrc

from distribution.config import DistributionConfig
from distribution.errors import DistributionError

_ISWC = re.compile(r"^T(\d{9})(\d)$")


async def next_isrc(conn: asyncpg.Connection, cfg: DistributionConfig, year: int) -> str:
    """A new ISRC `CCXXXYYNNNNN` (compact form) for `year`; unique across processes."""
    try:
        number = await conn.fetchval("SELECT distribution_next_isrc($1)", year)
    except asyncpg.SequenceGeneratorLimitExceededError:
        raise DistributionError(
            "codes_exhausted", f"all 99,999 ISRC designations of {year} are used"
        ) from None
    code = f"{cfg.isrc_registrant}{year % 100:02d}{number:05d}"
    return isrc.validate(code)


async def next_upc(conn: asyncpg.Connection, cfg: DistributionConfig) -> str:
    """A new EAN-13 from the GS1 company prefix, the next item reference and its check digit."""
    number = await conn.fetchval("SELECT nextval('distribution_upc_seq')")
    if number >= 10**cfg.upc_digits:
        raise DistributionError(
            "codes_exhausted", "the GS1 company prefix has no item references left"
        )
    body = f"{cfg.gs1_prefix}{number:0{cfg.upc_digits}d}"
    return ean.validate(body + ean.calc_check_digit(body))


def format_isrc(code: str) -> str:
    """The display form `CC-XXX-YY-NNNNN`."""
    return isrc.format(code, separator="-")


def check_iswc(value: str) -> str:
    """A supplied ISWC as `T-NNN.NNN.NNN-C`, or DistributionError. python-stdnum has no ISWC
    module, so the ISO 15707 check digit is computed here: 1 + sum(i * digit_i) over the nine
    digits, and C = (10 - sum mod 10) mod 10."""
    compact = re.sub(r"[\s.\-]", "", value).upper()
    found = _ISWC.match(compact)
    if found is None:
        raise DistributionError("invalid_iswc", "iswc must look like T-NNN.NNN.NNN-C")
    digits = found.group(1)
    total = 1 + sum(i * int(d) for i, d in enumerate(digits, 1))
    if (10 - total % 10) % 10 != int(found.group(2)):
        raise DistributionError("invalid_iswc", "iswc has a wrong check digit")
    return f"T-{digits[:3]}.{digits[3:6]}.{digits[6:]}-{found.group(2)}"
