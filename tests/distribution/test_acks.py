"""Acknowledgements the stores drop into a batch's acknowledgements/ folder, read over SFTP."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from distribution import acks, delivery
from distribution.package import ReleasePackage
from server.keys import DB
from tests.conftest import Api
from tests.distribution.conftest import DistApp, Dsps, enqueue, make_package
from tests.streaming import until


def ack_xml(
    file: str,
    status: str = "FileOK",
    error: str | None = None,
    release_status: str | None = None,
) -> bytes:
    """An ERN choreography FtpAcknowledgementMessage as a store writes it."""
    extra = f"<ErrorText>{error}</ErrorText>" if error else ""
    live = f"<ReleaseStatus>{release_status}</ReleaseStatus>" if release_status else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ernc:FtpAcknowledgementMessage xmlns:ernc="http://ddex.net/xml/ern-c/15"
    MessageVersionId="ern-c/15" LanguageAndScriptCode="en">
  <MessageHeader>
    <MessageThreadId>T-{uuid.uuid4().hex[:8]}</MessageThreadId>
    <MessageId>ACK-{uuid.uuid4().hex[:12]}</MessageId>
    <MessageSender><PartyId>PADPIDA2014120301D</PartyId></MessageSender>
    <MessageRecipient><PartyId>PADPIDA2026120201M</PartyId></MessageRecipient>
    <MessageCreatedDateTime>2026-12-02T10:00:00Z</MessageCreatedDateTime>
  </MessageHeader>
  <AcknowledgedFile>{file}</AcknowledgedFile>
  <FileStatus>{status}</FileStatus>
  {extra}{live}
</ernc:FtpAcknowledgementMessage>""".encode()


def _message_path(bid: str, package: ReleasePackage) -> str:
    return f"{bid}/{package.message_id}/{package.message_file}"


async def _states(api: Api, release_id: uuid.UUID) -> dict[str, tuple[str, str | None]]:
    async with api.app[DB].acquire() as conn:
        return {s.dsp: (s.state, s.reason) for s in await delivery.statuses(conn, release_id)}


async def test_acknowledgements_move_deliveries_once_and_forward_only(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    api = await dist_app(sshd.env(MHC_DISTRIBUTION_ACK_POLL_SECONDS="1"))
    release = uuid.uuid4()
    spotify = make_package(tmp_path, "spotify", release_id=release)
    deezer = make_package(tmp_path, "deezer", release_id=release)
    batches = dict(await enqueue(api, [spotify, deezer]))

    async def states_are(expected: dict[str, str]) -> bool:
        return {k: v[0] for k, v in (await _states(api, release)).items()} == expected

    async def delivered() -> bool:
        return await states_are({"spotify": "delivered", "deezer": "delivered"})

    await until(delivered, 30, "both deliveries")
    sb, db = batches["spotify"], batches["deezer"]
    sshd.spotify.drop(
        f"/inbox/{sb}/acknowledgements/ACK_{spotify.message_id}.xml",
        ack_xml(_message_path(sb, spotify)),
    )
    # Deezer first says OK, then drops a file that is no acknowledgement, then rejects: the
    # rejection wins whichever polls see which files.
    deezer_acks = f"/inbox/{db}/acknowledgements"
    sshd.deezer.drop(
        f"{deezer_acks}/ZZ_{deezer.message_id}.xml", ack_xml(_message_path(db, deezer))
    )
    sshd.deezer.drop(f"{deezer_acks}/notes.xml", b"<p>hello</p>")
    sshd.deezer.drop(
        f"{deezer_acks}/ACK_{deezer.message_id}.xml",
        ack_xml(_message_path(db, deezer), "ResourceCorrupt", "A1.flac is truncated"),
    )

    async def answered() -> bool:  # by the scheduled poll
        return await states_are({"spotify": "acknowledged", "deezer": "rejected"})

    await until(answered, 20, "the acknowledgements to be read")
    assert (await _states(api, release))["deezer"] == (
        "rejected",
        "ResourceCorrupt: A1.flac is truncated",
    )

    # Later the store reports the release on sale.
    sshd.spotify.drop(
        f"/inbox/{sb}/acknowledgements/LIVE_{spotify.message_id}.xml",
        ack_xml(_message_path(sb, spotify), release_status="Live"),
    )

    async def live() -> bool:
        return await states_are({"spotify": "live", "deezer": "rejected"})

    await until(live, 20, "the release to go live at spotify")
    # Every file was read once; polling again changes nothing.
    for target in delivery.enabled_dsps(api.app):
        assert await acks.poll_target(api.app, target) == 0
    assert (await _states(api, release))["deezer"][0] == "rejected"
    async with api.app[DB].acquire() as conn:
        rows = await conn.fetch(
            "SELECT dsp, name, status FROM distribution_acks WHERE batch_id = ANY($1)",
            [sb, db],
        )
    assert sorted((r["dsp"], r["name"], r["status"]) for r in rows) == [
        ("deezer", f"ACK_{deezer.message_id}.xml", "ResourceCorrupt"),
        ("deezer", f"ZZ_{deezer.message_id}.xml", "FileOK"),
        ("deezer", "notes.xml", "unreadable"),
        ("spotify", f"ACK_{spotify.message_id}.xml", "FileOK"),
        ("spotify", f"LIVE_{spotify.message_id}.xml", "FileOK"),
    ]


@pytest.mark.parametrize(
    ("data", "state", "reason"),
    [
        (ack_xml("b/M1/M1.xml"), "acknowledged", None),
        (ack_xml("b/M1/M1.xml", "SchemaValidationError", "bad ISRC"), "rejected", "bad ISRC"),
        (ack_xml("b/M1/M1.xml", "ResourceMissing"), "rejected", "ResourceMissing"),
        (ack_xml("b/M1/M1.xml", release_status="Available"), "live", None),
        # an ERN 4 status acknowledgement without a namespace prefix
        (
            b"<ErnAcknowledgementMessage><AcknowledgedMessageId>M1</AcknowledgedMessageId>"
            b"<MessageStatus>FileOK</MessageStatus></ErnAcknowledgementMessage>",
            "acknowledged",
            None,
        ),
    ],
)
def test_parse_reads_the_ddex_elements(data: bytes, state: str, reason: str | None) -> None:
    ack = acks.parse(data)
    assert ack.state == state
    if reason is None:
        assert ack.reason is None
    else:
        assert ack.reason is not None and reason in ack.reason
    assert any("M1" in ref for ref in ack.refers_to)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "not well-formed"),
        (b"<FtpAcknowledgementMessage><FileStatus>FileOK", "not well-formed"),
        (b"<NewReleaseMessage/>", "is not an acknowledgement"),
        (b"<FtpAcknowledgementMessage/>", "no FileStatus"),
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]>'
            b"<FtpAcknowledgementMessage><FileStatus>&x;</FileStatus></FtpAcknowledgementMessage>",
            "document type",
        ),
        (
            "<FtpAcknowledgementMessage>\udcff</FtpAcknowledgementMessage>".encode(
                "utf-8", "surrogateescape"
            ),
            "not well-formed",
        ),
    ],
)
def test_parse_refuses_what_is_not_an_acknowledgement(data: bytes, why: str) -> None:
    with pytest.raises(acks.AckError, match=why):
        acks.parse(data)
