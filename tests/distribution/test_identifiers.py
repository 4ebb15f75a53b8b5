"""Codes: ISRCs and UPCs are unique under concurrent uploads and valid; ISWCs are checked,
never made up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from stdnum import ean, isrc

from distribution import identifiers
from distribution.errors import DistributionError
from distribution.keys import DIST_CONFIG
from server.keys import DB
from tests.conftest import Api
from tests.distribution.conftest import form, make_audio, make_cover, metadata, upload


async def test_200_concurrent_uploads_get_200_distinct_valid_codes(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    audio, cover = make_audio(media_dir, "flac", 0.3), make_cover()
    replies = await asyncio.gather(
        *(
            upload(api, artist["token"], form(metadata(title=f"Take {i}"), audio, cover))
            for i in range(200)
        )
    )
    assert all(status == 202 for status, _ in replies), [r for r in replies if r[0] != 202][:3]
    isrcs = {body["isrc"] for _, body in replies}
    upcs = {body["upc"] for _, body in replies}
    assert len(isrcs) == 200 and len(upcs) == 200
    registrant = api.app[DIST_CONFIG].isrc_registrant
    for code in isrcs:
        assert isrc.is_valid(code), code
        assert code.replace("-", "").startswith(registrant)
    prefix = api.app[DIST_CONFIG].gs1_prefix
    assert all(ean.is_valid(u) and len(u) == 13 and u.startswith(prefix) for u in upcs)


async def test_each_year_has_its_own_designations(api: Api) -> None:
    cfg = api.app[DIST_CONFIG]
    async with api.app[DB].acquire() as conn:
        first = await identifiers.next_isrc(conn, cfg, 2091)
        second = await identifiers.next_isrc(conn, cfg, 2091)
        other = await identifiers.next_isrc(conn, cfg, 2092)
    assert first == f"{cfg.isrc_registrant}9100001"
    assert second == f"{cfg.isrc_registrant}9100002"
    assert other == f"{cfg.isrc_registrant}9200001"
    assert (
        identifiers.format_isrc(first)
        == f"{cfg.isrc_registrant[:2]}-{cfg.isrc_registrant[2:]}-91-00001"
    )


async def test_a_year_sequence_created_by_concurrent_first_uses(api: Api) -> None:
    cfg = api.app[DIST_CONFIG]

    async def one() -> str:
        async with api.app[DB].acquire() as conn, conn.transaction():
            return await identifiers.next_isrc(conn, cfg, 2093)

    codes = await asyncio.gather(*(one() for _ in range(40)))
    assert sorted(codes) == [f"{cfg.isrc_registrant}93{n:05d}" for n in range(1, 41)]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("T-034.524.680-1", "T-034.524.680-1"),
        ("T0345246801", "T-034.524.680-1"),
        ("t-034.524.680-1", "T-034.524.680-1"),
        ("T-000.000.001-0", "T-000.000.001-0"),
    ],
)
def test_valid_iswcs_are_taken_in_canonical_form(given: str, expected: str) -> None:
    assert identifiers.check_iswc(given) == expected


@pytest.mark.parametrize(
    "given", ["T-034.524.680-2", "T-034.524.68-1", "X-034.524.680-1", "", "T-034.524.680-X"]
)
def test_invalid_iswcs_are_refused(given: str) -> None:
    with pytest.raises(DistributionError) as err:
        identifiers.check_iswc(given)
    assert err.value.code == "invalid_iswc"
