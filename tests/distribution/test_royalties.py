"""Royalty reports: a DSR for an artist's ISRC credits them 90 % in the ledger; re-sent and
overlapping files post nothing twice; unknown ISRCs are reported; bad files are rejected
whole with the reason."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from distribution.royalties import ingest_bytes, ingest_file
from distribution.royalties.ingest import minor_units, platform_fee
from server.keys import CLOCK, CONFIG, DB
from tests.conftest import Api
from tests.distribution.conftest import form, make_audio, make_cover, metadata, upload
from tests.distribution.dsr import dsr, store_csv
from tests.streaming import until


async def _isrc(api: Api, artist: dict[str, Any], media_dir: Path) -> str:
    status, body = await upload(
        api, artist["token"], form(metadata(), make_audio(media_dir, "flac", 0.5), make_cover())
    )
    assert status == 202, body
    return str(body["isrc"]).replace("-", "")


async def _statement_line(api: Api, token: str, source: str) -> dict[str, Any]:
    month = api.app[CLOCK].now().strftime("%Y-%m")

    async def found() -> dict[str, Any] | None:
        status, body = await api.call("GET", f"/api/royalties/statement?month={month}", token=token)
        assert status == 200, body
        for cur in body["currencies"]:
            for line in cur["lines"]:
                if line["source"] == source:
                    return {**line, "currency": cur["currency"]}
        return None

    return await until(found, 20, f"statement line {source}")  # type: ignore[no-any-return]


async def _available(api: Api, token: str, currency: str) -> int:
    status, body = await api.call("GET", "/api/ledger/balance", token=token)
    assert status == 200, body
    return sum(b["available"] for b in body["balances"] if b["currency"] == currency)


async def _counts(api: Api, report_id: uuid.UUID) -> tuple[int, int]:
    async with api.app[DB].acquire() as conn:
        lines = await conn.fetchval(
            "SELECT count(*) FROM distribution_royalty_lines WHERE report_id = $1", report_id
        )
        posts = await conn.fetchval(
            "SELECT count(*) FROM distribution_royalty_postings WHERE report_id = $1", report_id
        )
    return int(lines), int(posts)


async def test_a_dsr_credits_the_artist_90_percent_once(
    api: Api, artist: dict[str, Any], media_dir: Path, tmp_path: Path
) -> None:
    isrc = await _isrc(api, artist, media_dir)
    sales = [(isrc, "FR", "1000", "3.001234", "EUR"), (isrc, "DE", "2500", "9.344444", "EUR")]
    path = tmp_path / "spotify-2026-03.tsv"
    path.write_text(dsr(sales))
    done = await ingest_file(api.app, "spotify", path)
    assert done.state == "posted" and done.reason is None, done
    assert (done.lines, done.new_lines, done.unknown_isrcs) == (2, 2, [])
    gross = minor_units(__import__("decimal").Decimal("12.345678"), "EUR")
    assert gross == 1235
    fee = platform_fee(gross, 1000)
    assert fee == 124
    line = await _statement_line(api, artist["token"], "dsp:spotify")
    assert (line["gross"], line["platform_fee"], line["artist_payout"]) == (1235, 124, 1111)
    assert line["currency"] == "EUR"
    assert await _available(api, artist["token"], "EUR") == 1111

    again = await ingest_file(api.app, "spotify", path)
    assert again.already_seen and again.report_id == done.report_id
    overlapping = tmp_path / "spotify-2026-03-resent.tsv"
    overlapping.write_text(dsr([*sales, (isrc, "US", "10", "0.50", "EUR")]))
    more = await ingest_file(api.app, "spotify", overlapping)
    assert (more.state, more.lines, more.new_lines, more.duplicate_lines) == ("posted", 3, 1, 2)
    await until(
        lambda: _is(api, artist["token"], "EUR", 1111 + 45), 20, "the overlapping line posted"
    )
    await asyncio.sleep(0.5)  # a double posting would show up by now
    assert await _available(api, artist["token"], "EUR") == 1111 + 45

    status, body = await api.call(
        "GET", "/api/distribution/royalties?month=2026-03", token=artist["token"]
    )
    assert status == 200, body
    got = {(x["store"], x["territory"]): x for x in body["lines"]}
    assert set(got) == {("spotify", "DE"), ("spotify", "FR"), ("spotify", "US")}
    assert got[("spotify", "DE")]["units"] == "2500"
    assert got[("spotify", "DE")]["gross"] == "9.344444"
    assert got[("spotify", "US")]["gross_minor"] == 50
    assert got[("spotify", "US")]["artist_payout"] == 45
    status, body = await api.call(
        "GET", "/api/distribution/royalties?month=2026-04", token=artist["token"]
    )
    assert status == 200 and body["lines"] == []


async def _is(api: Api, token: str, currency: str, amount: int) -> bool:
    return await _available(api, token, currency) == amount


async def test_unknown_isrcs_are_reported_not_posted(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    isrc = await _isrc(api, artist, media_dir)
    stranger = "USS1Z1412345"
    text = dsr(
        [(isrc, "FR", "10", "1.00", "EUR"), (stranger, "FR", "99", "5.00", "EUR")],
        sender="Deezer",
        start="2026-02-01",
        end="2026-02-28",
    )
    done = await ingest_bytes(api.app, None, "deezer.tsv", text.encode())
    assert done.state == "posted" and done.dsp == "deezer"
    assert done.unknown_isrcs == [stranger]
    lines, posts = await _counts(api, done.report_id)
    assert (lines, posts) == (2, 1)
    line = await _statement_line(api, artist["token"], "dsp:deezer")
    assert (line["gross"], line["platform_fee"], line["artist_payout"]) == (100, 10, 90)


async def test_a_store_csv_is_ingested(api: Api, artist: dict[str, Any], media_dir: Path) -> None:
    isrc = await _isrc(api, artist, media_dir)
    text = store_csv([(isrc, "GB", "300", "1.20", "GBP"), (isrc, "IE", "5", "0.05", "EUR")])
    done = await ingest_bytes(api.app, None, "tidal.csv", text.encode())
    assert (done.state, done.dsp, done.lines) == ("posted", "tidal", 2), done
    line = await _statement_line(api, artist["token"], "dsp:tidal")
    assert line["currency"] in ("EUR", "GBP")
    await until(lambda: _is(api, artist["token"], "GBP", 108), 20, "GBP royalties")
    await until(lambda: _is(api, artist["token"], "EUR", 4), 20, "EUR royalties")


def _good(isrc: str) -> list[tuple[str, str, str, str, str]]:
    return [(isrc, "FR", "10", "1.00", "EUR")]


BAD: list[tuple[str, Any, str]] = [
    ("footer line count", lambda i: dsr(_good(i), lines=99).encode(), "FOOT counts 99 lines"),
    ("summary total", lambda i: dsr(_good(i), summary_total_delta="0.01").encode(), "totals"),
    ("no footer", lambda i: dsr(_good(i)).rsplit("FOOT", 1)[0].encode(), "no FOOT"),
    ("latin-1", lambda i: dsr(_good(i), sender="Café").encode("latin-1"), "not UTF-8"),
    (
        "bad amount",
        lambda i: dsr(_good(i)).replace("true\t10\t1.00", "true\t10\t1,00").encode(),
        "not a decimal",
    ),
    ("bad currency", lambda i: dsr([(i, "FR", "10", "1.00", "euro")]).encode(), "ISO 4217"),
    ("csv header", lambda i: b"isrc,units\n" + i.encode() + b",1\n", "header"),
    ("csv no lines", lambda i: store_csv([]).encode(), "no lines"),
    ("csv amount", lambda i: store_csv([(i, "FR", "1", "abc", "EUR")]).encode(), "not a decimal"),
    ("csv non-utf8", lambda i: store_csv([(i, "FR", "1", "1", "EUR")]).encode("utf-16"), "UTF-8"),
]


@pytest.mark.parametrize(("case", "build", "reason"), BAD, ids=[c for c, _, _ in BAD])
async def test_bad_reports_are_rejected_whole(api: Api, case: str, build: Any, reason: str) -> None:
    isrc = f"ZZM01{uuid.uuid4().int % 10**7:07d}"
    done = await ingest_bytes(api.app, "spotify", f"{case}.tsv", build(isrc))
    assert done.state == "rejected", done
    assert done.reason and reason in done.reason, done.reason
    assert await _counts(api, done.report_id) == (0, 0)
    again = await ingest_bytes(api.app, "spotify", f"{case}.tsv", build(isrc))
    assert again.already_seen and again.state == "rejected"


async def test_the_cli_ingests_a_file_without_sftp(
    api: Api, artist: dict[str, Any], media_dir: Path, tmp_path: Path
) -> None:
    isrc = await _isrc(api, artist, media_dir)
    path = tmp_path / "amazon.csv"
    path.write_text(store_csv([(isrc, "US", "40", "2.00", "USD")], store="amazon"))
    cfg = api.app[CONFIG]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MHC_")}
    env.update(cfg.env)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", "distribution", "ingest", "--file", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tempfile.mkdtemp(prefix="mhc-cli-"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "posted: amazon report" in done.stdout and "1 new" in done.stdout, done.stdout
    await until(lambda: _is(api, artist["token"], "USD", 180), 20, "USD royalties")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe garbage")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", "distribution", "ingest", "--file", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tempfile.mkdtemp(prefix="mhc-cli-"),
    )
    assert done.returncode == 1 and "rejected" in done.stdout, done.stdout


async def test_concurrent_resends_and_overlaps_post_once(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    isrc = await _isrc(api, artist, media_dir)
    first = dsr([(isrc, "JP", "100", "250", "JPY")], start="2026-01-01", end="2026-01-31")
    overlap = dsr(
        [(isrc, "JP", "100", "250", "JPY"), (isrc, "KR", "5", "1000", "KRW")],
        start="2026-01-01",
        end="2026-01-31",
    )
    done = await asyncio.gather(
        *(ingest_bytes(api.app, "apple", "a.tsv", first.encode()) for _ in range(4)),
        *(ingest_bytes(api.app, "apple", "b.tsv", overlap.encode()) for _ in range(4)),
    )
    assert all(d.state == "posted" for d in done)
    assert sum(not d.already_seen for d in done) == 2
    assert sum(d.new_lines for d in done if not d.already_seen) == 2
    await until(lambda: _is(api, artist["token"], "JPY", 225), 20, "JPY royalties")
    await until(lambda: _is(api, artist["token"], "KRW", 900), 20, "KRW royalties")
    await asyncio.sleep(0.5)  # a second posting would show up by now
    assert await _available(api, artist["token"], "JPY") == 225
    assert await _available(api, artist["token"], "KRW") == 900
