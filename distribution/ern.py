"""DDEX ERN 4.3 NewReleaseMessage, built with lxml for one release and one DSP.

ERN 4 has no UpdateIndicator: a correction is a complete NewReleaseMessage for the same
release ids with a later MessageCreatedDateTime (and a new MessageId); a takedown is such a
message whose deals all end (ValidityPeriod/EndDate) on the day it is sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lxml import etree

NS = "http://ddex.net/xml/ern/43"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
AVS_VERSION = "3"
Kind = Literal["insert", "update", "takedown"]
# Per store: the commercial models and use types offered (streaming both ways, downloads).
DEALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SubscriptionModel", ("OnDemandStream", "NonInteractiveStream")),
    ("AdvertisementSupportedModel", ("OnDemandStream", "NonInteractiveStream")),
    ("PayAsYouGoModel", ("PermanentDownload",)),
)
_CODEC = {"mp3": "MP3", "wav": "PCM", "flac": "FLAC"}


@dataclass(frozen=True)
class Party:
    """A messaging party: DDEX party id (DPID) and name."""

    party_id: str
    name: str


@dataclass(frozen=True)
class Credit:
    """An artist credit: name and DDEX role."""

    name: str
    role: str


@dataclass(frozen=True)
class ErnRelease:
    """What the message says about one single: metadata, codes and the delivered files."""

    release_id: uuid.UUID
    isrc: str
    upc: str
    iswc: str | None
    title: str
    version: str | None
    artists: tuple[Credit, ...]
    genre: str
    release_date: dt.date
    label: str
    c_line: str
    p_line: str
    explicit: bool
    territories: tuple[str, ...]
    duration_ms: int
    audio_format: str
    channels: int
    sample_rate: int
    bits_per_sample: int | None
    audio_uri: str
    audio_md5: str
    cover_uri: str
    cover_md5: str
    cover_px: int


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def iso_duration(ms: int) -> str:
    """ISO 8601 duration of `ms` milliseconds, e.g. PT3M25.250S."""
    minutes, rest = divmod(ms, 60_000)
    seconds, millis = divmod(rest, 1000)
    hours, minutes = divmod(minutes, 60)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes or hours:
        out += f"{minutes}M"
    return out + (f"{seconds}.{millis:03d}S" if millis else f"{seconds}S")


def _year(line: str, fallback: int) -> str:
    head = line.strip()[:4]
    return head if head.isdigit() and len(head) == 4 else str(fallback)


def _party_ref(index: int) -> str:
    return f"P{index}"


def _titles(parent: etree._Element, r: ErnRelease) -> None:
    full = r.title if not r.version else f"{r.title} ({r.version})"
    _sub(parent, "DisplayTitleText", full)
    dt_el = _sub(parent, "DisplayTitle", ApplicableTerritoryCode="Worldwide")
    _sub(dt_el, "TitleText", r.title)
    if r.version:
        _sub(dt_el, "SubTitle", r.version)


def _display_artists(parent: etree._Element, r: ErnRelease, refs: dict[str, str]) -> None:
    shown = [a for a in r.artists if a.role in ("MainArtist", "FeaturedArtist")]
    mains = [a.name for a in shown if a.role == "MainArtist"]
    featured = [a.name for a in shown if a.role == "FeaturedArtist"]
    name = " & ".join(mains) + (f" feat. {', '.join(featured)}" if featured else "")
    _sub(parent, "DisplayArtistName", name, ApplicableTerritoryCode="Worldwide")
    for seq, a in enumerate(shown, 1):
        da = _sub(parent, "DisplayArtist", SequenceNumber=str(seq))
        _sub(da, "ArtistPartyReference", refs[a.name])
        _sub(da, "DisplayArtistRole", a.role)


def _header(
    root: etree._Element,
    sender: Party,
    recipient: Party,
    message_id: str,
    thread_id: str,
    created: dt.datetime,
    test: bool,
) -> None:
    h = _sub(root, "MessageHeader")
    _sub(h, "MessageThreadId", thread_id)
    _sub(h, "MessageId", message_id)
    s = _sub(h, "MessageSender")
    _sub(s, "PartyId", sender.party_id)
    _sub(_sub(s, "PartyName"), "FullName", sender.name)
    rcp = _sub(h, "MessageRecipient")
    _sub(rcp, "PartyId", recipient.party_id)
    _sub(_sub(rcp, "PartyName"), "FullName", recipient.name)
    _sub(h, "MessageCreatedDateTime", created.astimezone(dt.UTC).isoformat(timespec="seconds"))
    _sub(h, "MessageControlType", "TestMessage" if test else "LiveMessage")


def _parties(root: etree._Element, r: ErnRelease) -> dict[str, str]:
    refs: dict[str, str] = {}
    pl = _sub(root, "PartyList")
    for name in [*dict.fromkeys(a.name for a in r.artists), r.label]:
        if name in refs:
            continue
        refs[name] = _party_ref(len(refs) + 1)
        p = _sub(pl, "Party")
        _sub(p, "PartyReference", refs[name])
        _sub(_sub(p, "PartyName"), "FullName", name)
    return refs


def _resources(root: etree._Element, r: ErnRelease, refs: dict[str, str], namespace: str) -> None:
    rl = _sub(root, "ResourceList")
    sr = _sub(rl, "SoundRecording")
    _sub(sr, "ResourceReference", "A1")
    _sub(sr, "Type", "MusicalWorkSoundRecording")
    ed = _sub(sr, "SoundRecordingEdition")
    _sub(_sub(ed, "ResourceId"), "ISRC", r.isrc)
    pl = _sub(ed, "PLine")
    _sub(pl, "Year", _year(r.p_line, r.release_date.year))
    _sub(pl, "PLineText", r.p_line)
    td = _sub(ed, "TechnicalDetails")
    _sub(td, "TechnicalResourceDetailsReference", "T1")
    df = _sub(td, "DeliveryFile")
    _sub(df, "Type", "AudioFile")
    _sub(df, "AudioCodecType", _CODEC[r.audio_format])
    _sub(df, "NumberOfChannels", str(r.channels))
    _sub(df, "SamplingRate", f"{r.sample_rate / 1000:g}", UnitOfMeasure="kHz")
    if r.bits_per_sample:
        _sub(df, "BitsPerSample", str(r.bits_per_sample))
    f = _sub(df, "File")
    _sub(f, "URI", r.audio_uri)
    hs = _sub(f, "HashSum")
    _sub(hs, "Algorithm", "MD5")
    _sub(hs, "HashSumValue", r.audio_md5)
    if r.iswc:
        _sub(_sub(sr, "WorkId"), "ISWC", r.iswc.replace("-", "").replace(".", ""))
    _titles(sr, r)
    _display_artists(sr, r, refs)
    for a in r.artists:
        if a.role not in ("MainArtist", "FeaturedArtist"):
            c = _sub(sr, "Contributor")
            _sub(c, "ContributorPartyReference", refs[a.name])
            _sub(c, "Role", a.role)
    _sub(sr, "Duration", iso_duration(r.duration_ms))
    _sub(sr, "ParentalWarningType", "Explicit" if r.explicit else "NotExplicit")
    img = _sub(rl, "Image")
    _sub(img, "ResourceReference", "A2")
    _sub(img, "Type", "FrontCoverImage")
    _sub(_sub(img, "ResourceId"), "ProprietaryId", r.upc, Namespace=namespace)
    itd = _sub(img, "TechnicalDetails")
    _sub(itd, "TechnicalResourceDetailsReference", "T2")
    _sub(itd, "ImageCodecType", "JPEG" if r.cover_uri.endswith(".jpg") else "PNG")
    _sub(itd, "ImageHeight", str(r.cover_px), UnitOfMeasure="Pixel")
    _sub(itd, "ImageWidth", str(r.cover_px), UnitOfMeasure="Pixel")
    cf = _sub(itd, "File")
    _sub(cf, "URI", r.cover_uri)
    chs = _sub(cf, "HashSum")
    _sub(chs, "Algorithm", "MD5")
    _sub(chs, "HashSumValue", r.cover_md5)


def _release_common(el: etree._Element, r: ErnRelease, refs: dict[str, str]) -> None:
    _sub(el, "ReleaseLabelReference", refs[r.label], ApplicableTerritoryCode="Worldwide")
    g = _sub(el, "Genre", ApplicableTerritoryCode="Worldwide")
    _sub(g, "GenreText", r.genre)


def _releases(root: etree._Element, r: ErnRelease, refs: dict[str, str], namespace: str) -> None:
    rl = _sub(root, "ReleaseList")
    rel = _sub(rl, "Release")
    _sub(rel, "ReleaseReference", "R0")
    _sub(rel, "ReleaseType", "Single")
    _sub(_sub(rel, "ReleaseId"), "ICPN", r.upc)
    _titles(rel, r)
    _display_artists(rel, r, refs)
    _sub(rel, "ReleaseLabelReference", refs[r.label], ApplicableTerritoryCode="Worldwide")
    pl = _sub(rel, "PLine")
    _sub(pl, "Year", _year(r.p_line, r.release_date.year))
    _sub(pl, "PLineText", r.p_line)
    cl = _sub(rel, "CLine")
    _sub(cl, "Year", _year(r.c_line, r.release_date.year))
    _sub(cl, "CLineText", r.c_line)
    g = _sub(rel, "Genre", ApplicableTerritoryCode="Worldwide")
    _sub(g, "GenreText", r.genre)
    _sub(rel, "ReleaseDate", r.release_date.isoformat(), ApplicableTerritoryCode="Worldwide")
    _sub(rel, "ParentalWarningType", "Explicit" if r.explicit else "NotExplicit")
    rg = _sub(rel, "ResourceGroup")
    _sub(rg, "SequenceNumber", "1")
    item = _sub(rg, "ResourceGroupContentItem")
    _sub(item, "SequenceNumber", "1")
    _sub(item, "ReleaseResourceReference", "A1")
    _sub(item, "LinkedReleaseResourceReference", "A2")
    tr = _sub(rl, "TrackRelease")
    _sub(tr, "ReleaseReference", "R1")
    _sub(_sub(tr, "ReleaseId"), "ProprietaryId", r.isrc, Namespace=namespace)
    _sub(tr, "ReleaseResourceReference", "A1")
    _release_common(tr, r, refs)


def _deals(root: etree._Element, r: ErnRelease, sent: dt.date, takedown: bool) -> None:
    dl = _sub(root, "DealList")
    start = r.release_date
    for ref in ("R0", "R1"):
        rd = _sub(dl, "ReleaseDeal")
        _sub(rd, "DealReleaseReference", ref)
        for model, uses in DEALS:
            terms = _sub(_sub(rd, "Deal"), "DealTerms")
            for code in r.territories:
                _sub(terms, "TerritoryCode", code)
            vp = _sub(terms, "ValidityPeriod")
            _sub(vp, "StartDate", min(start, sent).isoformat() if takedown else start.isoformat())
            if takedown:
                _sub(vp, "EndDate", sent.isoformat())
            _sub(terms, "CommercialModelType", model)
            for use in uses:
                _sub(terms, "UseType", use)


def build(
    r: ErnRelease,
    sender: Party,
    recipient: Party,
    message_id: str,
    created: dt.datetime,
    kind: Kind = "insert",
    *,
    test: bool = False,
) -> etree._Element:
    """The NewReleaseMessage of `r` for `recipient`; a takedown ends every deal today."""
    root = etree.Element(
        f"{{{NS}}}NewReleaseMessage",
        nsmap={"ern": NS, "xsi": XSI},
        attrib={
            f"{{{XSI}}}schemaLocation": f"{NS} {NS}/release-notification.xsd",
            "ReleaseProfileVersionId": "Audio",
            "LanguageAndScriptCode": "en",
            "AvsVersionId": AVS_VERSION,
        },
    )
    _header(root, sender, recipient, message_id, r.release_id.hex, created, test)
    refs = _parties(root, r)
    _resources(root, r, refs, sender.party_id)
    _releases(root, r, refs, sender.party_id)
    _deals(root, r, created.date(), kind == "takedown")
    return root


def serialize(root: etree._Element) -> bytes:
    """The message as UTF-8 XML with a declaration."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def territories(values: Sequence[str]) -> tuple[str, ...]:
    """Territory codes in a stable order (Worldwide alone)."""
    return ("Worldwide",) if "Worldwide" in values else tuple(sorted(set(values)))
