"""The audit trail's rules: append, verify, checkpoint, prove, export, erase."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from forensics import privacy, registry, store
from forensics.bundle import pack_bundle, write_bundle
from forensics.chain import GENESIS_PREV, ChainBreak, verify_chain
from forensics.checkpoint import sign_checkpoint, verifier_key
from forensics.keys import EXPORTS, FCONFIG, SIGNER, WRITER
from forensics.merkle import MerkleTree, leaf_hashes
from forensics.verify import Report, verify_bundle
from forensics.worm import sha256_file
from server.keys import CLOCK, DB
from server.wire import timestamp

VERIFY_CHUNK = 5000


class RangeError(Exception):
    """A sequence number, tree size or range outside the log as it is now (bad input)."""


async def log_event(
    app: web.Application,
    event_type: str,
    actor: str | None,
    subject: str | None,
    data: Mapping[str, Any],
    personal: Mapping[str, Any] | None = None,
    key: uuid.UUID | None = None,
) -> int:
    """Append a registered event; `personal` details are sealed outside the chain. With
    `key` (an outbox job's), the event is appended at most once however often it is sent."""
    registry.check(event_type, actor, subject, data)
    record_data = dict(data)
    if personal:
        if not subject:
            raise registry.UnknownEvent("personal data needs a subject to belong to")
        async with app[DB].acquire() as conn:
            ref = await privacy.seal(conn, subject, dict(personal))
        if ref is not None:
            record_data["personal_ref"] = str(ref)
    return await app[WRITER].append(event_type, actor, subject, record_data, key)


@dataclass(frozen=True)
class Verification:
    """The result of checking the stored chain."""

    ok: bool
    first: int
    last: int
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The API shape."""
        return {
            "ok": self.ok,
            "first": self.first,
            "last": self.last,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


async def verify(app: web.Application, first: int = 1, last: int | None = None) -> Verification:
    """Recompute every hash and link in first..last, and match the newest checkpoint."""
    async with (
        app[DB].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        size = await store.size(conn)
        last = size if last is None else min(last, size)
        prev = GENESIS_PREV
        if first > 1:
            row = await conn.fetchrow("SELECT hash FROM forensic_log WHERE seq = $1", first - 1)
            prev = GENESIS_PREV if row is None else bytes(row["hash"])
        checked, seq = 0, first
        chunk: list[Any] = []
        brk: ChainBreak | None = None
        async for row in store.iter_rows(conn, first, last):
            chunk.append(row)
            if len(chunk) == VERIFY_CHUNK:
                brk = _check_chunk(chunk, prev, seq)
                if brk:
                    break
                checked += len(chunk)
                seq, prev = chunk[-1]["seq"] + 1, bytes(chunk[-1]["hash"])
                chunk = []
        if brk is None and chunk:
            brk = _check_chunk(chunk, prev, seq)
            if brk is None:
                checked += len(chunk)
        if brk is None and checked < last - first + 1:
            brk = ChainBreak(first + checked, "record missing at the end of the range")
        if brk is None and first == 1:
            brk = await _check_against_checkpoint(conn, size)
    if brk is not None:
        return Verification(False, first, last, checked, brk.seq, brk.reason)
    return Verification(True, first, last, checked)


def _check_chunk(rows: list[Any], prev: bytes, first_seq: int) -> ChainBreak | None:
    return verify_chain(
        (store.to_record(r) for r in rows),
        expected_prev=prev,
        first_seq=first_seq,
        hashes=[bytes(r["hash"]) for r in rows],
    )


async def _check_against_checkpoint(conn: asyncpg.Connection, size: int) -> ChainBreak | None:
    """Rows removed from the end leave a valid chain; the signed tree size gives them away."""
    latest = await store.latest_checkpoint(conn)
    if latest is None:
        return None
    if latest["tree_size"] > size:
        return ChainBreak(
            size + 1,
            f"records {size + 1}..{latest['tree_size']} were signed in a checkpoint but are gone",
        )
    tree = MerkleTree(leaf_hashes(await store.hashes(conn, latest["tree_size"])))
    if tree.root() != bytes(latest["root_hash"]):
        return ChainBreak(latest["tree_size"], "log no longer matches its signed checkpoint")
    return None


async def _tree(conn: asyncpg.Connection, size: int) -> MerkleTree:
    return MerkleTree(leaf_hashes(await store.hashes(conn, size)))


def _checkpoint_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tree_size": row["tree_size"],
        "root": bytes(row["root_hash"]).hex(),
        "note": row["note"],
        "created_at": timestamp(row["created_at"]),
    }


async def create_checkpoint(app: web.Application, size: int | None = None) -> dict[str, Any]:
    """Sign the tree head at `size` (default: the whole log)."""
    cfg = app[FCONFIG]
    async with app[DB].acquire() as conn:
        current = await store.size(conn)
        size = current if size is None else size
        if not 1 <= size <= current:
            raise RangeError(f"tree size must be within 1..{current}")
        existing = await store.checkpoint_of_size(conn, size)
        if existing is not None:
            return _checkpoint_json(existing)
        root = (await _tree(conn, size)).root()
        note = sign_checkpoint(cfg.origin, size, root, cfg.key_name, app[SIGNER])
        row = await store.insert_checkpoint(conn, size, root, note)
    await log_event(app, "CHECKPOINT_CREATED", None, None, {"tree_size": size, "root": root.hex()})
    return _checkpoint_json(row)


async def inclusion(app: web.Application, seq: int, size: int | None) -> dict[str, Any]:
    """Proof that record `seq` is in the tree of `size` records."""
    async with app[DB].acquire() as conn:
        current = await store.size(conn)
        size = current if size is None else size
        # A size beyond the log would get the proof of a smaller tree under a false size.
        if not 1 <= seq <= size <= current:
            raise RangeError(f"need 1 <= seq <= size <= {current} (the log's size)")
        tree = await _tree(conn, size)
        record_hash = (await store.hashes(conn, seq))[seq - 1]
    return {
        "seq": seq,
        "tree_size": size,
        "leaf_index": seq - 1,
        "record_hash": record_hash.hex(),
        "root": tree.root().hex(),
        "proof": [h.hex() for h in tree.inclusion_proof(seq - 1)],
    }


async def consistency(app: web.Application, size1: int, size2: int | None) -> dict[str, Any]:
    """Proof that the tree of `size2` records extends the tree of `size1`."""
    async with app[DB].acquire() as conn:
        current = await store.size(conn)
        size2 = current if size2 is None else size2
        if not 1 <= size1 <= size2 <= current:
            raise RangeError(f"need 1 <= size1 <= size2 <= {current} (the log's size)")
        tree = await _tree(conn, size2)
    return {
        "size1": size1,
        "size2": size2,
        "root1": tree.root(size1).hex(),
        "root2": tree.root().hex(),
        "proof": [h.hex() for h in tree.consistency_proof(size1)],
    }


async def export(app: web.Application, first: int, last: int | None) -> dict[str, Any]:
    """Write records first..last as a bundle into write-once storage."""
    cfg = app[FCONFIG]
    async with app[DB].acquire() as conn:
        current = await store.size(conn)
        last = current if last is None else last
        if not 1 <= first <= last <= current:
            raise RangeError(f"range must satisfy 1 <= first <= last <= {current}")
    checkpoint = await create_checkpoint(app, last)
    async with (
        app[DB].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        hashes = await store.hashes(conn, last)
        records = [store.to_record(r) async for r in store.iter_rows(conn, first, last)]
        previous = await store.last_export(conn)
        prev_cp = await store.checkpoint(conn, previous["checkpoint_id"]) if previous else None
    if prev_cp is not None and prev_cp["tree_size"] > last:
        prev_cp = None
    tree = MerkleTree(leaf_hashes(hashes))
    proof = tree.consistency_proof(prev_cp["tree_size"], last) if prev_cp else None
    export_id = uuid.uuid4()
    name = f"audit-{first:012d}-{last:012d}-{export_id}.tar.gz"

    def build() -> tuple[str, str]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / name.removesuffix(".tar.gz")
            write_bundle(
                folder,
                records,
                hashes[: first - 1],
                checkpoint["note"],
                verifier_key(cfg.key_name, app[SIGNER]),
                prev_cp["note"] if prev_cp else None,
                proof,
                cfg.origin,
                created_at=app[CLOCK].now(),
            )
            archive = pack_bundle(folder, Path(tmp) / name)
            return app[EXPORTS].put(name, archive), sha256_file(archive)

    location, digest = await asyncio.get_running_loop().run_in_executor(None, build)
    async with app[DB].acquire() as conn:
        await store.insert_export(
            conn,
            export_id,
            first,
            last,
            checkpoint["id"],
            prev_cp["id"] if prev_cp else None,
            location,
            digest,
        )
    await log_event(
        app, "EXPORT_CREATED", None, None, {"first": first, "last": last, "sha256": digest}
    )
    # The reply names the bundle, never where the server keeps it.
    return {
        "id": str(export_id),
        "first": first,
        "last": last,
        "bundle": name,
        "sha256": digest,
        "checkpoint": checkpoint,
        "previous_tree_size": prev_cp["tree_size"] if prev_cp else None,
    }


async def verify_export(app: web.Application, export_id: uuid.UUID) -> Report | None:
    """Run the offline verifier on a stored bundle."""
    async with app[DB].acquire() as conn:
        row = await store.export(conn, export_id)
    if row is None:
        return None
    path = app[EXPORTS].open(row["location"])
    report = await asyncio.get_running_loop().run_in_executor(None, verify_bundle, path, None, 1)
    report.bundle = path.name  # callers learn the bundle's name, not where the server keeps it
    return report


async def erase_subject(app: web.Application, subject: str, actor: str) -> int:
    """GDPR erasure: destroy the subject's key and record that it happened."""
    async with app[DB].acquire() as conn:
        count = await privacy.erase(conn, subject, app[CLOCK].now())
    await log_event(app, "DATA_ERASED", actor, subject, {"records": count})
    return count
