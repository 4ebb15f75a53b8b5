"""The whole label path: an upload becomes a schema-valid ERN 4.3 message delivered to two
stores' real sshd with a BatchComplete marker, an acknowledgement shows, and the store's DSR
report for its ISRC, fetched by the monthly routine, credits the artist 90 %."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distribution import validator
from distribution.royalties.monthly import fetch_and_ingest
from tests.conftest import SHARED_DIR
from tests.distribution.conftest import (
    DistApp,
    Dsps,
    form,
    make_audio,
    make_cover,
    metadata,
    upload,
)
from tests.distribution.dsr import dsr
from tests.distribution.test_acks import ack_xml
from tests.sftp_server import SftpServer
from tests.streaming import until


def _delivered_message(server: SftpServer) -> tuple[str, Path]:
    """The one batch on the store: its id and the ERN message in it, checked complete."""
    inbox = server.path("/inbox")
    markers = sorted(inbox.glob("*/BatchComplete_*.xml"))
    assert len(markers) == 1, sorted(p.name for p in inbox.iterdir())
    batch = markers[0].name.removeprefix("BatchComplete_").removesuffix(".xml")
    messages = list((inbox / batch).glob("*/*.xml"))
    assert len(messages) == 1, messages
    assert not list((inbox / batch).rglob("*.part")), "no file left half-written"
    return batch, messages[0]


async def test_upload_to_two_stores_acknowledged_and_paid(
    sshd: Dsps, dist_app: DistApp, media_dir: Path, tmp_path: Path
) -> None:
    api = await dist_app(sshd.env(MHC_DISTRIBUTION_ACK_POLL_SECONDS="1"))
    artist = await api.register("artist")
    token = artist["access"]
    status, body = await upload(
        api, token, form(metadata(), make_audio(media_dir, "flac", 0.5), make_cover())
    )
    assert status == 202, body
    release, isrc = body["id"], body["isrc"]
    path = f"/api/distribution/status/{release}"

    async def states(wanted: str) -> dict[str, Any] | None:
        status, body = await api.call("GET", path, token=token)
        assert status == 200, body
        got = {d["dsp"]: d["state"] for d in body["deliveries"]}
        return got if got and set(got.values()) == {wanted} else None

    assert await until(lambda: states("delivered"), 60, "both stores delivered") == {
        "spotify": "delivered",
        "deezer": "delivered",
    }
    schema = validator.load(SHARED_DIR / "ddex" / "ern43")
    for server in (sshd.spotify, sshd.deezer):
        batch, message = _delivered_message(server)
        assert schema.check_file(message) == [], message
        assert isrc.replace("-", "") in message.read_text()
        relative = message.relative_to(server.path("/inbox"))
        server.drop(
            f"/inbox/{batch}/acknowledgements/ACK_{message.stem}.xml", ack_xml(str(relative))
        )
    assert await until(lambda: states("acknowledged"), 30, "both acknowledged")

    sale = (isrc.replace("-", ""), "FR", "4000", "20.00", "EUR")
    sshd.spotify.drop("/reports/spotify-2026-03.tsv", dsr([sale]).encode())
    results = await fetch_and_ingest(api.app)
    assert [(r.state, r.lines, r.unknown_isrcs) for r in results] == [("posted", 1, [])]

    async def credited() -> int | None:
        status, body = await api.call("GET", "/api/ledger/balance", token=token)
        assert status == 200, body
        got = sum(b["available"] for b in body["balances"] if b["currency"] == "EUR")
        return got or None

    assert await until(credited, 30, "the royalty credited") == 1800  # 90 % of 20.00 EUR
    # The routine run again fetches nothing new and credits nothing twice.
    assert await fetch_and_ingest(api.app) == []
