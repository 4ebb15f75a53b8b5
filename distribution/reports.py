"""Sales and usage report files fetched from each DSP's report folder over SFTP.

Each file is fetched once per version: a file is known by its remote name, size and
modification time, so a re-sent (changed) file is fetched again and an unchanged one never
is. Copies land in `<state dir>/distribution/reports/<dsp>/`; ingestion reads them there.
"""

from __future__ import annotations

import logging
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from distribution import sftp
from distribution.delivery_metrics import REPORTS
from distribution.targets import DELIVERY_CONFIG, Target
from server.keys import CONFIG, DB

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^0-9A-Za-z_.-]")


@dataclass(frozen=True)
class FetchedReport:
    """A report file newly copied from a DSP."""

    dsp: str
    path: Path
    remote_name: str


def folder(app: web.Application, dsp: str) -> Path:
    """Where a DSP's fetched reports are kept."""
    return app[CONFIG].state_dir / "distribution" / "reports" / dsp


def _local_name(remote: sftp.RemoteFile, taken: set[str]) -> str:
    name = _SAFE.sub("_", remote.name).lstrip(".") or "report"
    if name not in taken:
        return name
    # Another version of the same name was fetched before: keep both.
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{remote.mtime}{dot}{ext}" if dot and stem else f"{name}.{remote.mtime}"


def _fetch(
    target: Target, timeout: float, known: set[tuple[str, int, int]], dest: Path
) -> list[tuple[sftp.RemoteFile, Path, str]]:
    assert target.reports is not None
    got = []
    with sftp.connect(target, timeout) as session:
        for entry in sftp.listdir(session, target.reports):
            if entry.name.endswith(sftp.PART) or (entry.name, entry.size, entry.mtime) in known:
                continue
            taken = {p.name for p in dest.iterdir()} if dest.is_dir() else set()
            local = dest / _local_name(entry, taken)
            digest = sftp.get(session, posixpath.join(target.reports, entry.name), local)
            got.append((entry, local, digest))
    return got


async def fetch(app: web.Application, target: Target) -> list[FetchedReport]:
    """Copy a DSP's new report files; each is recorded as soon as it is on disk."""
    if target.reports is None:
        return []
    pool = app[DB]
    rows = await pool.fetch(
        "SELECT remote_name, size, mtime FROM distribution_report_fetches WHERE dsp = $1",
        target.code,
    )
    known = {(r["remote_name"], r["size"], r["mtime"]) for r in rows}
    dest = folder(app, target.code)
    got = await sftp.run(_fetch, target, app[DELIVERY_CONFIG].timeout, known, dest)
    fetched = []
    for entry, local, digest in got:
        inserted = await pool.fetchval(
            """INSERT INTO distribution_report_fetches
                   (dsp, remote_name, size, mtime, local_path, sha256)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
            target.code,
            entry.name,
            entry.size,
            entry.mtime,
            str(local),
            digest,
        )
        if inserted:
            REPORTS.labels(target.code).inc()
            fetched.append(FetchedReport(target.code, local, entry.name))
    return fetched


async def fetch_all(app: web.Application) -> list[FetchedReport]:
    """New report files from every enabled DSP with a report folder; a DSP that cannot be
    reached is logged and skipped (its files are fetched on the next run)."""
    fetched: list[FetchedReport] = []
    for target in app[DELIVERY_CONFIG].targets.values():
        try:
            fetched += await fetch(app, target)
        except (sftp.SftpError, sftp.HostKeyMismatch) as exc:
            log.warning("reports of %s not fetched: %s", target.code, exc)
    return fetched
