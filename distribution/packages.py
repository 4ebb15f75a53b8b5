"""Release packages on disk: per store, the ERN message and (for a first delivery) the audio
and cover under resources/, each file listed with its size and MD5. Blocking: run in an
executor."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from distribution import ern
from distribution.config import DistributionConfig
from distribution.ern import Credit, ErnRelease, Party
from distribution.package import PackageFile, ReleasePackage
from distribution.releases import Release
from distribution.validator import Validator


def release_dir(cfg: DistributionConfig, release_id: object) -> Path:
    """Where a release's uploaded audio and cover are kept."""
    return cfg.data_dir / "releases" / str(release_id)


def _place(source: Path, target: Path) -> None:
    """Link (or copy across file systems) a resource into a package."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def ern_release(release: Release) -> ErnRelease:
    """The message's view of a stored release."""
    m, a, c = release.metadata, release.audio, release.cover
    return ErnRelease(
        release_id=release.id,
        isrc=release.isrc,
        upc=release.upc,
        iswc=release.iswc,
        title=m["title"],
        version=m.get("version"),
        artists=tuple(Credit(x["name"], x["role"]) for x in m["artists"]),
        genre=m["genre"],
        release_date=release.release_date,
        label=m["label"],
        c_line=m["c_line"],
        p_line=m["p_line"],
        explicit=bool(m["explicit"]),
        territories=ern.territories(m["territories"]),
        duration_ms=int(a["duration_ms"]),
        audio_format=a["format"],
        channels=int(a["channels"]),
        sample_rate=int(a["sample_rate"]),
        bits_per_sample=a.get("bits_per_sample"),
        audio_uri=f"resources/{release.isrc}.{a['format']}",
        audio_md5=a["md5"],
        cover_uri=f"resources/{release.upc}.{c['extension']}",
        cover_md5=c["md5"],
        cover_px=int(c["width"]),
    )


def message_id(release: Release, dsp: str) -> str:
    """The message's id, also its folder name: the UPC, the revision and the store."""
    return f"{release.upc}_{release.revision:04d}_{dsp}"


def build(
    cfg: DistributionConfig,
    validator: Validator,
    release: Release,
    recipients: Mapping[str, Party],
    created: dt.datetime,
) -> list[ReleasePackage]:
    """One validated package per store; DistributionError if a message fails the schema."""
    kind = release.pending_kind
    data = ern_release(release)
    sender = Party(cfg.party_id, cfg.party_name)
    out: list[ReleasePackage] = []
    for dsp, party in sorted(recipients.items()):
        mid = message_id(release, dsp)
        root = ern.build(data, sender, party, mid, created, kind, test=cfg.test_messages)
        validator.check(root)
        folder = cfg.data_dir / "packages" / mid
        folder.mkdir(parents=True, exist_ok=True)
        files: list[PackageFile] = []
        if kind == "insert":
            (folder / "resources").mkdir(exist_ok=True)
            src = release_dir(cfg, release.id)
            for rel, name, md5 in (
                (data.audio_uri, f"audio.{release.audio['format']}", data.audio_md5),
                (data.cover_uri, f"cover.{release.cover['extension']}", data.cover_md5),
            ):
                _place(src / name, folder / rel)
                files.append(PackageFile(rel, (folder / rel).stat().st_size, md5))
        xml = ern.serialize(root)
        message_file = f"{mid}.xml"
        tmp = folder / (message_file + ".tmp")
        tmp.write_bytes(xml)
        tmp.replace(folder / message_file)
        files.append(
            PackageFile(message_file, len(xml), hashlib.md5(xml, usedforsecurity=False).hexdigest())
        )
        out.append(ReleasePackage(release.id, dsp, mid, folder, message_file, tuple(files), kind))
    return out
