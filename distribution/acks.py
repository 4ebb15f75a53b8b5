"""DDEX acknowledgements the DSPs drop into a batch's `acknowledgements/` folder.

The store answers each batch with acknowledgement messages (the choreography's
`FtpAcknowledgementMessage`: `AcknowledgedFile`, `FileStatus`, `ErrorText`; the ERN 4 suite's
`…AcknowledgementMessage` variants are read the same way). `FileStatus` `FileOK` moves the
release to `acknowledged`; any other status (`ResourceCorrupt`, `SchemaValidationError`, …)
to `rejected`, with the store's status and error text as the reason. The FTP acknowledgement
reports receipt only; a store that also reports going on sale sends a later one carrying
`ReleaseStatus` `Live` (or `Available`), which moves the release to `live`. A scheduled poll
reads new files over SFTP; each file is applied once.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import asyncpg
from aiohttp import web

from distribution import delivery_store, sftp
from distribution.delivery_metrics import ACKS
from distribution.delivery_store import State
from distribution.targets import DELIVERY_CONFIG, Target
from server.keys import DB

log = logging.getLogger(__name__)
FOLDER = "acknowledgements"
_LIVE = {"live", "available", "onsale", "released"}


class AckError(ValueError):
    """A file in the acknowledgement folder that is not an acknowledgement we can read."""


@dataclass(frozen=True)
class Ack:
    """What one acknowledgement says."""

    state: State
    reason: str | None
    refers_to: tuple[str, ...]  # file paths and message ids it names
    status: str


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _texts(root: ET.Element, name: str) -> list[str]:
    return [(e.text or "").strip() for e in root.iter() if _local(e.tag) == name and e.text]


def parse(data: bytes) -> Ack:
    """Read an acknowledgement message; AckError when it is not one."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise AckError("document type declarations are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise AckError(f"not well-formed XML: {exc}") from None
    kind = _local(root.tag)
    if not kind.endswith("AcknowledgementMessage"):
        raise AckError(f"{kind} is not an acknowledgement message")
    statuses = _texts(root, "FileStatus") or _texts(root, "MessageStatus")
    if not statuses:
        raise AckError(f"{kind} has no FileStatus")
    status = statuses[0]
    errors = _texts(root, "ErrorText")
    release_status = [s.lower().replace(" ", "") for s in _texts(root, "ReleaseStatus")]
    refers = tuple(
        _texts(root, "AcknowledgedFile")
        + _texts(root, "AcknowledgedMessageId")
        + _texts(root, "FileName")
    )
    state: State
    if status.lower() != "fileok":
        state = "rejected"
        reason: str | None = status + (f": {'; '.join(errors)}" if errors else "")
    elif any(s in _LIVE for s in release_status):
        state, reason = "live", None
    else:
        state, reason = "acknowledged", None
    return Ack(state, reason, refers, status)


def _message_id(ack: Ack, message_ids: set[str], bid: str) -> str | bool | None:
    """The delivery an ack names: a message id, None for the whole batch, False if unknown."""
    for ref in ack.refers_to:
        parts = [p for p in ref.replace("\\", "/").split("/") if p]
        stem = posixpath.splitext(parts[-1])[0] if parts else ""
        for candidate in [*parts, stem]:
            if candidate in message_ids:
                return candidate
        if bid in parts or stem in (bid, f"BatchComplete_{bid}"):
            return None
    if not ack.refers_to and len(message_ids) == 1:
        return None
    return False


def _read_new(
    target: Target, timeout: float, seen: dict[str, set[str]]
) -> list[tuple[str, str, bytes | str]]:
    """(batch, file name, content or why it could not be read) for each unseen file."""
    found: list[tuple[str, str, bytes | str]] = []
    with sftp.connect(target, timeout) as session:
        for bid, names in seen.items():
            folder = posixpath.join(target.root, bid, FOLDER)
            for entry in sftp.listdir(session, folder):
                if entry.name in names or entry.name.endswith(sftp.PART):
                    continue
                try:
                    data: bytes | str = sftp.read_small(session, posixpath.join(folder, entry.name))
                except sftp.SftpError as exc:
                    data = str(exc)
                found.append((bid, entry.name, data))
    return found


async def _seen(conn: asyncpg.Connection, dsp: str, batches: list[str]) -> dict[str, set[str]]:
    rows = await conn.fetch(
        "SELECT batch_id, name FROM distribution_acks WHERE dsp = $1 AND batch_id = ANY($2)",
        dsp,
        batches,
    )
    seen: dict[str, set[str]] = {b: set() for b in batches}
    for r in rows:
        seen[r["batch_id"]].add(r["name"])
    return seen


async def _apply(conn: asyncpg.Connection, dsp: str, bid: str, name: str, data: bytes | str) -> int:
    batch = await delivery_store.batch(conn, dsp, bid)
    ids = {d.message_id for d in batch.deliveries} if batch else set()
    try:
        if isinstance(data, str):
            raise AckError(data)
        ack = parse(data)
        target = _message_id(ack, ids, bid)
        if target is False:
            raise AckError(f"it names none of the batch's messages: {', '.join(ack.refers_to)}")
    except AckError as exc:
        log.warning("acknowledgement %s/%s/%s not applied: %s", dsp, bid, name, exc)
        ACKS.labels(dsp, "unreadable").inc()
        await conn.execute(
            """INSERT INTO distribution_acks (dsp, batch_id, name, status, reason)
               VALUES ($1, $2, $3, 'unreadable', $4) ON CONFLICT DO NOTHING""",
            dsp,
            bid,
            name,
            str(exc),
        )
        return 0
    message_id = target if isinstance(target, str) else None
    async with conn.transaction():
        inserted = await conn.fetchval(
            """INSERT INTO distribution_acks (dsp, batch_id, name, message_id, status, reason)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
            dsp,
            bid,
            name,
            message_id,
            ack.status,
            ack.reason,
        )
        if not inserted:
            return 0  # another poll applied it
        moved = await delivery_store.advance(conn, dsp, bid, message_id, ack.state, ack.reason)
    ACKS.labels(dsp, ack.state).inc()
    return moved


async def poll_target(app: web.Application, target: Target) -> int:
    """Read a DSP's new acknowledgements and move its deliveries; returns how many moved."""
    pool = app[DB]
    async with pool.acquire() as conn:
        batches = await delivery_store.awaiting_acks(conn, target.code)
        if not batches:
            return 0
        seen = await _seen(conn, target.code, batches)
    found = await sftp.run(_read_new, target, app[DELIVERY_CONFIG].timeout, seen)
    moved = 0
    async with pool.acquire() as conn:
        for bid, name, data in found:
            moved += await _apply(conn, target.code, bid, name, data)
    return moved


async def poll(app: web.Application) -> None:
    """Poll every enabled DSP; one that cannot be reached does not hold the others up."""
    for target in app[DELIVERY_CONFIG].targets.values():
        try:
            await poll_target(app, target)
        except (sftp.SftpError, sftp.HostKeyMismatch) as exc:
            log.warning("acknowledgements of %s not read: %s", target.code, exc)
