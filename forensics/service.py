"""The audit trail's rules: append, verify, checkpoint, prove, export, erase."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from forensics import privacy, registry, store, tilefiles, tiles, tilestore, timestamp
from forensics.bundle import pack_bundle, write_bundle
from forensics.chain import GENESIS_PREV, ChainBreak, verify_chain
from forensics.checkpoint import sign_checkpoint, verifier_key
from forensics.config import ForensicsConfig
from forensics.keys import EXPORTS, FCONFIG, SIGNER, WRITER
from forensics.merkle import (
    HASH_SIZE,
    MerkleTree,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    leaf_hashes,
)
from forensics.verify import Report, verify_bundle
from forensics.worm import sha256_file
from server.keys import CLOCK, DB
from server.wire import timestamp as wire_ts

VERIFY_CHUNK = 5000
log = logging.getLogger(__name__)


class RangeError(Exception):
    """A sequence number, tree size or range outside the log as it is now (bad input)."""


class Damaged(Exception):
    """The stored log and its tiles disagree: someone changed one of them."""


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
            tree = MerkleTree(leaf_hashes(await store.hashes(conn, size)))
            brk = await _check_against_checkpoint(conn, size, tree)
            if brk is None:
                brk = await _check_tiles(conn, size, tree, app[FCONFIG].log_dir)
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


async def _check_against_checkpoint(
    conn: asyncpg.Connection, size: int, tree: MerkleTree
) -> ChainBreak | None:
    """Rows removed from the end leave a valid chain; the signed tree size gives them away."""
    latest = await store.latest_checkpoint(conn)
    if latest is None:
        return None
    if latest["tree_size"] > size:
        return ChainBreak(
            size + 1,
            f"records {size + 1}..{latest['tree_size']} were signed in a checkpoint but are gone",
        )
    if tree.root(latest["tree_size"]) != bytes(latest["root_hash"]):
        return ChainBreak(latest["tree_size"], "log no longer matches its signed checkpoint")
    return None


def _first_leaf(level: int, idx: int) -> int:
    """The seq of the first record under a tile."""
    return (idx << (tiles.HEIGHT * (level + 1))) + 1


async def _check_tiles(
    conn: asyncpg.Connection, size: int, tree: MerkleTree, log_dir: Path
) -> ChainBreak | None:
    """Match every stored tile, and every tile file, against the tree rebuilt from records."""
    covered = await tilestore.size(conn)
    if covered != size:
        return ChainBreak(
            min(covered, size) + 1,
            f"tiles cover {covered} of {size} records: run `mhc forensics build-tiles`",
        )
    loop = asyncio.get_running_loop()
    seen: set[tiles.TileId] = set()
    async for level, idx, stored in tilestore.iter_tiles(conn):
        seen.add((level, idx))
        width = len(stored) // HASH_SIZE
        expected = tree.level(tiles.HEIGHT * level, idx * tiles.WIDTH, width)
        name = tiles.tile_path(level, idx, width)
        if stored != expected or (
            width == tiles.WIDTH and tiles.level_count(size, level) < (idx + 1) * tiles.WIDTH
        ):
            return ChainBreak(_first_leaf(level, idx), f"stored {name} does not match the records")
        on_disk = await loop.run_in_executor(None, tilefiles.read, log_dir, level, idx, width)
        if on_disk is not None and on_disk != expected:
            return ChainBreak(_first_leaf(level, idx), f"file {name} does not match the records")
    for level, idx, width in tiles.tiles_for_size(size):
        if (level, idx) not in seen:
            name = tiles.tile_path(level, idx, width)
            return ChainBreak(_first_leaf(level, idx), f"stored {name} is missing")
    return None


async def _tree_size(conn: asyncpg.Connection) -> int:
    """The size of the tree the tiles hold (the log's size once they cover it)."""
    return await tilestore.size(conn)


async def _checkpoint_json(conn: asyncpg.Connection, row: Any) -> dict[str, Any]:
    stamp = await store.checkpoint_timestamp(conn, row["id"])
    return {
        "id": row["id"],
        "tree_size": row["tree_size"],
        "root": bytes(row["root_hash"]).hex(),
        "note": row["note"],
        "created_at": wire_ts(row["created_at"]),
        "timestamped_at": None if stamp is None else wire_ts(stamp["gen_time"]),
    }


async def create_checkpoint(app: web.Application, size: int | None = None) -> dict[str, Any]:
    """Sign the tree head at `size` (default: the whole log), read from the stored tiles."""
    cfg = app[FCONFIG]
    async with app[DB].acquire() as conn:
        current = await _tree_size(conn)
        size = current if size is None else size
        if not 1 <= size <= current:
            raise RangeError(f"tree size must be within 1..{current}")
        existing = await store.checkpoint_of_size(conn, size)
        if existing is not None:
            return await _checkpoint_json(conn, existing)
        root = await tiles.root(tilestore.loader(conn), size)
        note = sign_checkpoint(cfg.origin, size, root, cfg.key_name, app[SIGNER])
        row = await store.insert_checkpoint(conn, size, root, note)
    if cfg.tsa_url is not None:
        await _timestamp(app, cfg, row["id"], row["note"])
    await publish(app, size, row["note"])
    await log_event(app, "CHECKPOINT_CREATED", None, None, {"tree_size": size, "root": root.hex()})
    async with app[DB].acquire() as conn:
        return await _checkpoint_json(conn, row)


async def _timestamp(app: web.Application, cfg: ForensicsConfig, cp_id: int, note: str) -> None:
    """Have the TSA timestamp a signed checkpoint; a failure leaves it untimestamped."""
    assert cfg.tsa_url is not None and cfg.tsa_certs is not None
    try:
        pem = await asyncio.get_running_loop().run_in_executor(None, cfg.tsa_certs.read_bytes)
        stamp = await timestamp.obtain(cfg.tsa_url, pem, note.encode(), cfg.tsa_timeout)
    except (OSError, timestamp.TimestampError) as exc:
        log.warning("checkpoint %d not timestamped: %s", cp_id, exc)
        return
    async with app[DB].acquire() as conn:
        await store.insert_timestamp(conn, cp_id, cfg.tsa_url, stamp.response, stamp.gen_time)


async def publish(app: web.Application, size: int, note: str) -> None:
    """Write the tiles of the tree at `size`, then the checkpoint, as static files."""
    async with app[DB].acquire() as conn:
        stored = await tilestore.load(conn, [(lv, i) for lv, i, _ in tiles.edge_tiles(size)])
        latest = await store.latest_checkpoint(conn)
    if latest is not None and latest["tree_size"] > size:
        return  # an older head: monitors follow the newest only
    log_dir = app[FCONFIG].log_dir

    def write() -> None:
        tilefiles.write_edge(log_dir, size, stored)
        tilefiles.publish_checkpoint(log_dir, size, note)

    await asyncio.get_running_loop().run_in_executor(None, write)


async def sync_files(app: web.Application) -> int:
    """Rewrite the full tile files the directory lacks, and the latest checkpoint."""
    log_dir = app[FCONFIG].log_dir
    loop = asyncio.get_running_loop()
    async with app[DB].acquire() as conn:
        missing = await loop.run_in_executor(
            None, tilefiles.missing_full, log_dir, await tilestore.widths(conn)
        )
        written = 0
        for i in range(0, len(missing), 256):
            stored = await tilestore.load(conn, missing[i : i + 256])
            changed = [(lv, idx, h) for (lv, idx), h in stored.items()]
            written += await loop.run_in_executor(None, tilefiles.write_full, log_dir, changed)
        latest = await store.latest_checkpoint(conn)
    if latest is not None:
        await publish(app, latest["tree_size"], latest["note"])
    return written


async def build_tiles(
    app: web.Application, chunk: int = tilestore.CATCH_UP_CHUNK, *, wait: bool = True
) -> dict[str, Any]:
    """Cover the whole log with tiles, one committed chunk at a time (resumable), write the
    files, and check that the tiles reproduce every checkpoint already signed.

    With `wait` false, a chunk whose append lock another process holds is left to that
    process: every append batch covers what the tiles lack before it appends, so nothing
    stays uncovered, and a start never hangs on a stuck peer's open transaction."""
    covered = 0
    while True:
        async with app[DB].acquire() as conn, conn.transaction():
            if wait:
                tail, _ = await store.lock_and_tail(conn)
            else:
                locked = await store.try_lock_and_tail(conn)
                if locked is None:
                    log.info(
                        "another process is appending to the forensic log; it covers the tiles"
                    )
                    covered = await tilestore.size(conn)
                    break
                tail, _ = locked
            covered, _ = await tilestore.catch_up(conn, tail, chunk)
        if covered >= tail:
            break
    files = await sync_files(app)
    checked, mismatched = 0, []
    async with app[DB].acquire() as conn:
        load = tilestore.loader(conn)
        for row in await store.checkpoints(conn):
            checked += 1
            if await tiles.root(load, row["tree_size"]) != bytes(row["root_hash"]):
                mismatched.append(row["tree_size"])
    return {
        "tree_size": covered,
        "files_written": files,
        "checkpoints_checked": checked,
        "checkpoints_mismatched": mismatched,
    }


async def inclusion(app: web.Application, seq: int, size: int | None) -> dict[str, Any]:
    """Proof that record `seq` is in the tree of `size` records, from O(log n) tiles."""
    async with app[DB].acquire() as conn:
        current = await _tree_size(conn)
        size = current if size is None else size
        # A size beyond the log would get the proof of a smaller tree under a false size.
        if not 1 <= seq <= size <= current:
            raise RangeError(f"need 1 <= seq <= size <= {current} (the log's size)")
        ranges = [*inclusion_ranges(seq - 1, size), (seq - 1, seq), (0, size)]
        hashes = await tiles.hashes_of(tilestore.loader(conn), ranges)
        record_hash = await store.record_hash(conn, seq)
    if record_hash is None or leaf_hash(record_hash) != hashes[-2]:
        raise Damaged(f"record {seq} and its leaf in the tiles disagree: run verification")
    return {
        "seq": seq,
        "tree_size": size,
        "leaf_index": seq - 1,
        "record_hash": record_hash.hex(),
        "root": hashes[-1].hex(),
        "proof": [h.hex() for h in hashes[:-2]],
    }


async def consistency(app: web.Application, size1: int, size2: int | None) -> dict[str, Any]:
    """Proof that the tree of `size2` records extends the tree of `size1`, from tiles."""
    async with app[DB].acquire() as conn:
        current = await _tree_size(conn)
        size2 = current if size2 is None else size2
        if not 1 <= size1 <= size2 <= current:
            raise RangeError(f"need 1 <= size1 <= size2 <= {current} (the log's size)")
        ranges = [*consistency_ranges(size1, size2), (0, size1), (0, size2)]
        hashes = await tiles.hashes_of(tilestore.loader(conn), ranges)
    return {
        "size1": size1,
        "size2": size2,
        "root1": hashes[-2].hex(),
        "root2": hashes[-1].hex(),
        "proof": [h.hex() for h in hashes[:-2]],
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
        prefix = await store.hashes(conn, first - 1)
        records = [store.to_record(r) async for r in store.iter_rows(conn, first, last)]
        previous = await store.last_export(conn)
        prev_cp = await store.checkpoint(conn, previous["checkpoint_id"]) if previous else None
        if prev_cp is not None and prev_cp["tree_size"] > last:
            prev_cp = None
        proof = (
            await tiles.hashes_of(
                tilestore.loader(conn), consistency_ranges(prev_cp["tree_size"], last)
            )
            if prev_cp
            else None
        )
        stamp = await store.checkpoint_timestamp(conn, checkpoint["id"])
    tsa_certs = None
    if stamp is not None and cfg.tsa_certs is not None:
        tsa_certs = await asyncio.get_running_loop().run_in_executor(None, cfg.tsa_certs.read_bytes)
    export_id = uuid.uuid4()
    name = f"audit-{first:012d}-{last:012d}-{export_id}.tar.gz"

    def build() -> tuple[str, str]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / name.removesuffix(".tar.gz")
            write_bundle(
                folder,
                records,
                prefix,
                checkpoint["note"],
                verifier_key(cfg.key_name, app[SIGNER]),
                prev_cp["note"] if prev_cp else None,
                proof,
                cfg.origin,
                created_at=app[CLOCK].now(),
                timestamp=bytes(stamp["response"]) if stamp and tsa_certs else None,
                tsa_certs=tsa_certs,
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
