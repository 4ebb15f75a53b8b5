"""ERN 4.3: the official samples and every message built pass the one validator; packages
hold what the messages say; corrections and takedowns make new valid messages."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from distribution import ern, packages, releases, validator
from distribution.ern import Party
from distribution.keys import DIST_CONFIG
from server.keys import DB
from tests.conftest import SHARED_DIR, Api
from tests.distribution.conftest import (
    form,
    make_audio,
    make_cover,
    metadata,
    release_of,
    settled,
    upload,
)

SCHEMA_DIR = SHARED_DIR / "ddex" / "ern43"
NS = {"ern": ern.NS}
STORES = {
    "spotify": Party("PADPIDA2011072101T", "Spotify"),
    "deezer": Party("PADPIDA2008101001S", "Deezer"),
}


@pytest.mark.parametrize(
    "sample", sorted((SCHEMA_DIR / "samples").glob("*.xml")), ids=lambda p: p.name
)
def test_the_official_samples_validate(sample: Path) -> None:
    assert validator.load(SCHEMA_DIR).check_file(sample) == []


def test_the_validator_finds_what_is_wrong(tmp_path: Path) -> None:
    sample = etree.parse(str(SCHEMA_DIR / "samples" / "4_SimpleAudioSingle.xml"))
    header = sample.find("MessageHeader")
    assert header is not None
    header.remove(header.find("MessageId"))  # type: ignore[arg-type]
    broken = tmp_path / "broken.xml"
    sample.write(str(broken))
    found = validator.load(SCHEMA_DIR).check_file(broken)
    assert found and "MessageId" in found[0]
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<not closed")
    assert validator.load(SCHEMA_DIR).check_file(garbage)[0].startswith("not well-formed")


@pytest.mark.parametrize(
    ("ms", "text"),
    [(183_250, "PT3M3.250S"), (2_000, "PT2S"), (3_600_000, "PT1H0M0S"), (61_001, "PT1M1.001S")],
)
def test_iso_8601_durations(ms: int, text: str) -> None:
    assert ern.iso_duration(ms) == text


async def _uploaded(api: Api, artist: dict[str, Any], media_dir: Path, **meta: Any) -> str:
    status, body = await upload(
        api,
        artist["token"],
        form(metadata(**meta), make_audio(media_dir, "flac", 2.0), make_cover()),
    )
    assert status == 202, body
    await settled(api, artist["token"], body["id"])
    return str(body["id"])


async def _build(api: Api, release_id: str) -> list[Any]:
    cfg = api.app[DIST_CONFIG]
    async with api.app[DB].acquire() as conn:
        release = await releases.get(conn, uuid.UUID(release_id))
    assert release is not None
    return packages.build(
        cfg, validator.load(cfg.schema_dir), release, STORES, dt.datetime.now(dt.UTC)
    )


def _text(doc: etree._ElementTree, path: str) -> list[str]:
    return [str(e.text) for e in doc.iterfind(path, NS)]


async def test_a_package_per_store_with_a_valid_message_and_its_files(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    release_id = await _uploaded(api, artist, media_dir, iswc="T-034.524.680-1")
    shown = await release_of(api, artist["token"], release_id)
    built = await _build(api, release_id)
    assert sorted(p.dsp for p in built) == ["deezer", "spotify"]
    check = validator.load(SCHEMA_DIR)
    for p in built:
        assert p.kind == "insert" and p.release_id == uuid.UUID(release_id)
        assert p.folder.name == p.message_id
        xml = p.folder / p.message_file
        assert check.check_file(xml) == []
        for f in p.files:
            data = (p.folder / f.relpath).read_bytes()
            assert len(data) == f.size and hashlib.md5(data).hexdigest() == f.md5
        assert {f.relpath for f in p.files} == {
            p.message_file,
            f"resources/{shown['isrc'].replace('-', '')}.flac",
            f"resources/{shown['upc']}.png",
        }
        doc = etree.parse(str(xml))
        assert _text(doc, "MessageHeader/MessageRecipient/PartyId") == [STORES[p.dsp].party_id]
        assert _text(doc, "MessageHeader/MessageSender/PartyId") == [api.app[DIST_CONFIG].party_id]
        assert _text(doc, "MessageHeader/MessageId") == [p.message_id]
        assert _text(doc, ".//SoundRecordingEdition/ResourceId/ISRC") == [
            shown["isrc"].replace("-", "")
        ]
        assert _text(doc, ".//WorkId/ISWC") == ["T0345246801"]
        assert _text(doc, "ReleaseList/Release/ReleaseId/ICPN") == [shown["upc"]]
        assert _text(doc, ".//SoundRecording/Duration") == ["PT2S"]
        uri = _text(doc, ".//SoundRecording//File/URI")[0]
        md5 = _text(doc, ".//SoundRecording//File/HashSum/HashSumValue")[0]
        assert hashlib.md5((p.folder / uri).read_bytes()).hexdigest() == md5
        models = _text(doc, "DealList/ReleaseDeal/Deal/DealTerms/CommercialModelType")
        assert sorted(set(models)) == [
            "AdvertisementSupportedModel",
            "PayAsYouGoModel",
            "SubscriptionModel",
        ]
        assert set(_text(doc, ".//DealTerms/TerritoryCode")) == {"DE", "FR", "US"}
        assert _text(doc, ".//DealTerms/ValidityPeriod/StartDate")[0] == "2026-03-01"
        assert not _text(doc, ".//DealTerms/ValidityPeriod/EndDate")


async def test_a_correction_makes_an_update_and_a_takedown_ends_the_deals(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    release_id = await _uploaded(api, artist, media_dir)
    await _build(api, release_id)  # the first delivery was built
    async with api.app[DB].acquire() as conn:
        await releases.record_messages(
            conn, [(f"first-{release_id}", uuid.UUID(release_id), "spotify", "insert", 1)]
        )
    status, body = await api.call(
        "PATCH",
        f"/api/distribution/releases/{release_id}",
        token=artist["token"],
        json={"title": "Night Drive (Corrected)", "genre": "House"},
    )
    assert status == 202, body
    assert body["revision"] == 2
    await settled(api, artist["token"], release_id, 2)
    updated = await _build(api, release_id)
    for p in updated:
        assert p.kind == "update" and [f.relpath for f in p.files] == [p.message_file]
        doc = etree.parse(str(p.folder / p.message_file))
        assert _text(doc, "ReleaseList/Release/DisplayTitle/TitleText") == [
            "Night Drive (Corrected)"
        ]
        assert _text(doc, ".//Genre/GenreText")[0] == "House"
        assert validator.load(SCHEMA_DIR).check_file(p.folder / p.message_file) == []
    status, body = await api.call(
        "POST", f"/api/distribution/releases/{release_id}/takedown", token=artist["token"]
    )
    assert status == 202, body
    done = await settled(api, artist["token"], release_id, 3)
    assert done["state"] == "taken_down"
    withdrawn = await _build(api, release_id)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for p in withdrawn:
        assert p.kind == "takedown"
        doc = etree.parse(str(p.folder / p.message_file))
        deals = list(doc.iterfind(".//DealTerms", NS))
        assert deals and all(_text(d, "ValidityPeriod/EndDate") == [today] for d in deals)  # type: ignore[arg-type]
        assert validator.load(SCHEMA_DIR).check_file(p.folder / p.message_file) == []
    status, body = await api.call(
        "PATCH",
        f"/api/distribution/releases/{release_id}",
        token=artist["token"],
        json={"title": "Too late"},
    )
    assert status == 409 and body["error"]["code"] == "taken_down"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"iswc": "T-034.524.680-9"}, "invalid_iswc"),
        ({"title": ""}, "invalid_field"),
        ({}, "invalid_field"),
        ({"title": None}, "invalid_field"),
        ({"artists": [{"name": "A", "role": "Mixer"}]}, "invalid_field"),
        ({"territories": ["Worldwide", "FR"]}, "invalid_field"),
        ({"isrc": "FRZ032600001"}, "invalid_field"),
    ],
)
async def test_bad_corrections_are_refused(
    api: Api, artist: dict[str, Any], media_dir: Path, change: dict[str, Any], code: str
) -> None:
    release_id = await _uploaded(api, artist, media_dir)
    status, body = await api.call(
        "PATCH", f"/api/distribution/releases/{release_id}", token=artist["token"], json=change
    )
    assert status == 400 and body["error"]["code"] == code, body
    assert (await release_of(api, artist["token"], release_id))["revision"] == 1


async def test_only_the_owner_changes_a_release(
    api: Api, artist: dict[str, Any], media_dir: Path
) -> None:
    release_id = await _uploaded(api, artist, media_dir)
    other = await api.register("artist")
    for method, path, body in (
        ("PATCH", f"/api/distribution/releases/{release_id}", {"title": "Mine now"}),
        ("POST", f"/api/distribution/releases/{release_id}/takedown", None),
    ):
        status, reply = await api.call(method, path, token=other["access"], json=body)
        assert status == 404, reply
    assert (await release_of(api, artist["token"], release_id))["revision"] == 1
    status, _ = await api.call(
        "POST", f"/api/distribution/releases/{uuid.uuid4()}/takedown", token=artist["token"]
    )
    assert status == 404
