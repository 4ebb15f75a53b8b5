"""Delivery of release packages to the DSPs over SFTP, after DDEX's batch choreography.

Per DSP, each `enqueue` makes one batch: a folder `<root>/<BatchId>/` holding one folder per
release (`<MessageId>/`, with the ERN message and its `resources/`), and, written last, the
marker `BatchComplete_<BatchId>.xml` that tells the store the batch may be ingested. Every
file is uploaded under `<name>.part` and renamed into place once its size (and, after a
resumed upload, its MD5) is right; a later attempt continues a `.part` from its size, skips
files already in place, and writes the marker only when every file is there. A host key
other than the pinned one stops the delivery (`failed`, with both fingerprints) without a
retry; other failures are retried by the job queue with its backoff.

States per release and DSP: queued → uploading → delivered → acknowledged | rejected → live,
or failed (our side could not deliver: a host key mismatch, or every attempt failed).
"""

from __future__ import annotations

import logging
import posixpath
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import asyncpg
from aiohttp import web

from distribution import acks, delivery_routes, delivery_store, sftp
from distribution.delivery_metrics import ATTEMPT_SECONDS, ATTEMPTS, BYTES_SENT
from distribution.delivery_store import Batch, DeliveryStatus
from distribution.package import ReleasePackage
from distribution.targets import DELIVERY_CONFIG, Target
from distribution.targets import enabled as enabled_targets
from distribution.targets import load as load_targets
from server import jobs
from server.jobs.registry import JOBS, every
from server.keys import CONFIG, DB

__all__ = [
    "DeliveryError",
    "DeliveryStatus",
    "enabled_dsps",
    "enqueue",
    "redeliver",
    "setup",
    "statuses",
]

log = logging.getLogger(__name__)
DELIVER_JOB = "distribution.deliver"
ACK_SCHEDULE = "distribution.acks"
_MESSAGE_ID = re.compile(r"^[0-9A-Za-z_.-]{1,128}$")
_RELPATH = re.compile(r"^[0-9A-Za-z_.-]+(/[0-9A-Za-z_.-]+)*$")


class DeliveryError(Exception):
    """A package delivery cannot be queued as given (unknown DSP, unsafe names)."""


def enabled_dsps(app: web.Application) -> list[Target]:
    """The DSP targets configured for delivery."""
    return enabled_targets(app)


def batch_id() -> str:
    """A new DDEX batch id: the UTC time to the millisecond (the ordering stores ingest by),
    and a random tail so two batches of one millisecond never share a folder."""
    now = datetime.now(UTC)
    return f"{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}_{secrets.token_hex(3)}"


def _check(app: web.Application, package: ReleasePackage) -> None:
    if package.dsp not in app[DELIVERY_CONFIG].targets:
        raise DeliveryError(f"DSP {package.dsp!r} is not configured for delivery")
    if not _MESSAGE_ID.match(package.message_id) or package.message_id in (".", ".."):
        raise DeliveryError(f"message id {package.message_id!r} is not a safe folder name")
    relpaths = {f.relpath for f in package.files}
    for rel in relpaths:
        if not _RELPATH.match(rel) or any(p in (".", "..") for p in rel.split("/")):
            raise DeliveryError(f"file path {rel!r} is not a safe relative path")
    if package.message_file not in relpaths:
        raise DeliveryError(f"the message file {package.message_file!r} is not in the package")


async def enqueue(
    app: web.Application, conn: asyncpg.Connection, packages: Sequence[ReleasePackage]
) -> list[tuple[str, str]]:
    """Queue the packages for delivery inside the caller's transaction: one batch and one job
    per DSP. Returns the (dsp, batch id) pairs made."""
    by_dsp: dict[str, list[ReleasePackage]] = defaultdict(list)
    for package in packages:
        _check(app, package)
        by_dsp[package.dsp].append(package)
    made = []
    for dsp, group in by_dsp.items():
        bid = batch_id()
        try:
            await delivery_store.insert_batch(conn, dsp, bid, group)
        except asyncpg.UniqueViolationError:
            raise DeliveryError(f"a message id for {dsp} was queued before") from None
        # No dedupe key is needed: runs of one batch exclude each other (deliver_job's lock)
        # and a finished batch is left alone.
        await jobs.enqueue(app, conn, DELIVER_JOB, {"dsp": dsp, "batch": bid})
        made.append((dsp, bid))
    return made


async def redeliver(app: web.Application, conn: asyncpg.Connection, dsp: str) -> list[str]:
    """Queue a DSP's failed batches again (after its host key was confirmed and updated, or
    it is reachable again), inside the caller's transaction; returns the batch ids."""
    if dsp not in app[DELIVERY_CONFIG].targets:
        raise DeliveryError(f"DSP {dsp!r} is not configured for delivery")
    ids = await delivery_store.reopen_failed(conn, dsp)
    for bid in ids:
        await jobs.enqueue(app, conn, DELIVER_JOB, {"dsp": dsp, "batch": bid})
    return ids


async def statuses(conn: asyncpg.Connection, release_id: uuid.UUID) -> list[DeliveryStatus]:
    """Where a release stands at each DSP it was sent to."""
    return await delivery_store.statuses(conn, release_id)


def batch_folder(target: Target, bid: str) -> str:
    """The batch's folder on the DSP's server."""
    return posixpath.join(target.root, bid)


def marker_name(bid: str) -> str:
    """The file that marks a batch complete; written after every other file of the batch."""
    return f"BatchComplete_{bid}.xml"


def _manifest(batch: Batch) -> bytes:
    root = ET.Element("BatchComplete")
    ET.SubElement(root, "BatchId").text = batch.id
    for d in batch.deliveries:
        release = ET.SubElement(root, "Release")
        ET.SubElement(release, "MessageId").text = d.message_id
        ET.SubElement(release, "MessageFile").text = f"{d.message_id}/{d.message_file}"
        ET.SubElement(release, "UpdateIndicator").text = d.kind
        for f in d.files:
            item = ET.SubElement(release, "File")
            ET.SubElement(item, "Path").text = f"{d.message_id}/{f.relpath}"
            ET.SubElement(item, "Size").text = str(f.size)
            ET.SubElement(item, "HashSum", Algorithm="MD5").text = f.md5
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _upload_order(batch: Batch) -> list[sftp.Upload]:
    uploads = []
    for d in batch.deliveries:
        # Resources before the message that points at them.
        for f in sorted(d.files, key=lambda f: (f.relpath == d.message_file, f.relpath)):
            uploads.append(
                sftp.Upload(
                    d.folder / f.relpath,
                    posixpath.join(batch.id, d.message_id, f.relpath),
                    f.size,
                    f.md5,
                )
            )
    return uploads


def upload_batch(target: Target, timeout: float, batch: Batch) -> int:
    """Upload a batch, or what is left of it, then its marker; returns the bytes sent."""
    uploads = _upload_order(batch)
    for up in uploads:
        try:
            size = up.local.stat().st_size
        except OSError as exc:
            raise sftp.SftpError(f"the local file {up.local} is unreadable: {exc}") from None
        if size != up.size:
            raise sftp.SftpError(f"{up.local} is {size} bytes, the package says {up.size}")
    base = batch_folder(target, batch.id)
    marker = posixpath.join(base, marker_name(batch.id))
    sent = 0
    with sftp.connect(target, timeout) as session:
        if sftp.size_of(session, marker) is not None:
            return 0  # complete already: an earlier attempt lost only its database update
        made: set[str] = set()
        for up in uploads:
            remote = posixpath.join(target.root, up.remote)
            folder = posixpath.dirname(remote)
            if folder not in made:
                sftp.makedirs(session, folder)
                made.add(folder)
            sent += sftp.put(session, sftp.Upload(up.local, remote, up.size, up.md5))
        for up in uploads:
            remote = posixpath.join(target.root, up.remote)
            if sftp.size_of(session, remote) != up.size:
                raise sftp.SftpError(f"{remote} is missing or short; the batch stays open")
        sftp.put_bytes(session, marker, _manifest(batch))
    return sent


async def deliver_job(app: web.Application, payload: dict[str, object]) -> None:
    """Deliver one batch. Safe to run again: a finished batch is left alone, a partial one
    continues where it stopped, and a run that finds another one busy with the batch (a
    redelivery queued beside a pending retry) leaves it to that one."""
    dsp, bid = str(payload["dsp"]), str(payload["batch"])
    # A session lock, not a row lock: the upload takes minutes outside any transaction, and a
    # worker that dies drops its connection and with it the lock.
    async with app[DB].acquire() as lock:
        if not await lock.fetchval(
            "SELECT pg_try_advisory_lock(hashtext('distribution.deliver'), hashtext($1))",
            f"{dsp}/{bid}",
        ):
            log.info("batch %s/%s is being delivered by another run", dsp, bid)
            return
        try:
            await _deliver(app, dsp, bid)
        finally:
            await lock.execute(
                "SELECT pg_advisory_unlock(hashtext('distribution.deliver'), hashtext($1))",
                f"{dsp}/{bid}",
            )


async def _deliver(app: web.Application, dsp: str, bid: str) -> None:
    pool = app[DB]
    async with pool.acquire() as conn:
        batch = await delivery_store.start_attempt(conn, dsp, bid)
    if batch is None:
        return
    cfg = app[DELIVERY_CONFIG]
    target = cfg.targets.get(dsp)
    if target is None:
        async with pool.acquire() as conn:
            await delivery_store.finish(conn, dsp, bid, failed=f"DSP {dsp} is not configured")
        return
    try:
        with ATTEMPT_SECONDS.labels(dsp).time():
            sent = await sftp.run(upload_batch, target, cfg.timeout, batch)
    except sftp.HostKeyMismatch as exc:
        ATTEMPTS.labels(dsp, "host_key_mismatch").inc()
        log.error("delivery %s/%s stopped: %s", dsp, bid, exc)
        async with pool.acquire() as conn:
            await delivery_store.finish(conn, dsp, bid, failed=str(exc))
        return
    except sftp.SftpError as exc:
        attempts = len(batch.attempts)
        limit = app[JOBS].config.max_attempts
        async with pool.acquire() as conn:
            if attempts >= limit:
                reason = f"gave up after {attempts} attempts: {exc}"
                ATTEMPTS.labels(dsp, "failed").inc()
                log.error("delivery %s/%s failed: %s", dsp, bid, reason)
                await delivery_store.finish(conn, dsp, bid, failed=reason)
                return
            await delivery_store.note(conn, dsp, bid, str(exc))
        ATTEMPTS.labels(dsp, "retry").inc()
        log.warning("delivery %s/%s attempt %d failed: %s", dsp, bid, attempts, exc)
        raise
    async with pool.acquire() as conn:
        await delivery_store.finish(conn, dsp, bid)
    ATTEMPTS.labels(dsp, "delivered").inc()
    BYTES_SENT.labels(dsp).inc(sent)
    log.info("delivered batch %s to %s (%d bytes sent)", bid, dsp, sent)


def setup(app: web.Application) -> None:
    """Read the DSP targets; plug in the delivery job, the acknowledgement poll and routes."""
    cfg = load_targets(app[CONFIG].env)
    app[DELIVERY_CONFIG] = cfg
    jobs.register(app, DELIVER_JOB, deliver_job)
    jobs.schedule(app, ACK_SCHEDULE, every(cfg.ack_poll_seconds), acks.poll)
    app.router.add_routes(delivery_routes.routes)
