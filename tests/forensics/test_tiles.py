"""The tiled tree against real PostgreSQL: proofs through the API equal a full rebuild,
checkpoints come with their tiles as files, tampering with a tile (database or disk) is
caught, a log without tiles heals on restart, build-tiles reproduces signed checkpoints,
and appends from several processes while proofs are served."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys

import asyncpg
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from forensics import service, store, tiles, tilestore
from forensics.chain import Record, record_hash
from forensics.checkpoint import verify_checkpoint
from forensics.keys import FCONFIG, SIGNER
from forensics.merkle import (
    MerkleTree,
    leaf_hash,
    leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from server.app import create_app
from server.clock import Clock
from server.keys import CONFIG, DB
from tests.forensics.test_trail import Trail, auditor_token, call, trail  # noqa: F401


async def rebuilt(trail: Trail) -> MerkleTree:  # noqa: F811
    async with trail.app[DB].acquire() as conn:
        return MerkleTree(leaf_hashes(await store.hashes(conn, await store.size(conn))))


async def test_api_proofs_equal_a_full_rebuild_at_random_sizes(trail: Trail) -> None:  # noqa: F811
    for n in (1, 255, 1, 300, 70):  # batches across tile edges
        await trail.append(n)
    tree = await rebuilt(trail)
    token = await auditor_token(trail)
    rng = random.Random(14)
    sizes = [1, 2, 255, 256, 257, 512, 513, tree.size, *rng.sample(range(1, tree.size), 12)]
    for size in sizes:
        seq = rng.randint(1, size)
        status, inc = await call(
            trail, token, "GET", f"/api/forensics/proofs/inclusion?seq={seq}&size={size}"
        )
        assert status == 200, inc
        assert [bytes.fromhex(h) for h in inc["proof"]] == tree.inclusion_proof(seq - 1, size)
        assert bytes.fromhex(inc["root"]) == tree.root(size)
        size1 = rng.randint(1, size)
        status, con = await call(
            trail, token, "GET", f"/api/forensics/proofs/consistency?size1={size1}&size2={size}"
        )
        assert status == 200, con
        assert [bytes.fromhex(h) for h in con["proof"]] == tree.consistency_proof(size1, size)
        assert bytes.fromhex(con["root1"]) == tree.root(size1)


async def test_checkpoint_publishes_note_and_tiles_as_files(trail: Trail) -> None:  # noqa: F811
    await trail.append(300)
    cp = await service.create_checkpoint(trail.app)
    log_dir = trail.app[FCONFIG].log_dir
    assert (log_dir / "checkpoint").read_text() == cp["note"]
    size = cp["tree_size"]
    tree = await rebuilt(trail)
    for level, idx, width in tiles.edge_tiles(size):
        data = (log_dir / tiles.tile_path(level, idx, width)).read_bytes()
        assert data == tree.level(8 * level, idx * 256, width)
    assert (log_dir / "tile/0/000").read_bytes() == tree.level(0, 0, 256)
    # An older, smaller checkpoint never replaces the published head.
    await service.create_checkpoint(trail.app, 10)
    assert (log_dir / "checkpoint").read_text() == cp["note"]


async def test_database_refuses_to_change_a_full_tile(trail: Trail) -> None:  # noqa: F811
    await trail.append(260)
    conn = await asyncpg.connect(trail.dsn)
    try:
        for sql in (
            "UPDATE forensic_tiles SET hashes = decode(repeat('ab', 8192), 'hex') WHERE idx = 0",
            "UPDATE forensic_tiles SET hashes = substring(hashes from 1 for 32) WHERE idx = 1",
            "DELETE FROM forensic_tiles",
            "TRUNCATE forensic_tiles",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_tile_edited_in_the_database_is_caught(trail: Trail) -> None:  # noqa: F811
    await trail.append(300)
    token = await auditor_token(trail)
    assert (await service.verify(trail.app)).ok
    await trail.sql(
        "UPDATE forensic_tiles SET hashes = overlay(hashes placing decode(repeat('ee', 32), 'hex')"
        " from 33 for 32) WHERE level = 0 AND idx = 0"
    )
    status, result = await call(trail, token, "POST", "/api/forensics/verify")
    assert status == 200 and not result["ok"] and "tile/0/000" in result["reason"], result
    status, body = await call(trail, token, "GET", "/api/forensics/proofs/inclusion?seq=2")
    assert status == 500 and body["error"]["code"] == "log_damaged"


async def test_tile_removed_from_the_database_is_caught(trail: Trail) -> None:  # noqa: F811
    await trail.append(600)
    await trail.sql("DELETE FROM forensic_tiles WHERE level = 0 AND idx = 1")
    result = await service.verify(trail.app)
    assert not result.ok and result.first_bad_seq == 257, result
    assert "tile/0/001 is missing" in (result.reason or "")


async def test_tile_file_edited_on_disk_is_caught(trail: Trail) -> None:  # noqa: F811
    await trail.append(600)
    await service.create_checkpoint(trail.app)
    assert (await service.verify(trail.app)).ok
    path = trail.app[FCONFIG].log_dir / "tile/0/001"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    result = await service.verify(trail.app)
    assert not result.ok and "file tile/0/001" in (result.reason or "")
    assert result.first_bad_seq == 257


async def restart(trail: Trail) -> web.AppRunner:  # noqa: F811
    """A second app on the same database and state directory, as after a restart."""
    runner = web.AppRunner(create_app(trail.app[CONFIG]))
    await runner.setup()
    return runner


async def test_records_without_tiles_heal_on_restart(trail: Trail) -> None:  # noqa: F811
    await trail.append(200)
    cp = await service.create_checkpoint(trail.app)
    # Records committed without their tiles (what a crash between the two would leave),
    # and tile files lost from disk.
    async with trail.app[DB].acquire() as conn, conn.transaction():
        seq, prev = await store.lock_and_tail(conn)
        rows = []
        now = Clock().now()
        for i in range(seq + 1, seq + 401):
            rec = Record(i, now, "PLAYBACK_REVOKED", None, f"raw-{i}", {"reason": "x"}, prev)
            prev = record_hash(rec)
            rows.append((i, now, rec.type, None, rec.subject, rec.data, rec.prev_hash, prev))
        await store.insert_records(conn, rows)
    async with trail.app[DB].acquire() as conn:
        assert await tilestore.size(conn) == seq
    log_dir = trail.app[FCONFIG].log_dir
    assert not (log_dir / "tile/0/001").exists()
    runner = await restart(trail)
    try:
        async with trail.app[DB].acquire() as conn:
            assert await tilestore.size(conn) == seq + 400
        assert (log_dir / "tile/0/001").exists()
        assert (await service.verify(runner.app)).ok
        proof = await service.inclusion(runner.app, 450, None)
        tree = await rebuilt(trail)
        assert bytes.fromhex(proof["root"]) == tree.root()
        assert (await service.build_tiles(runner.app))["checkpoints_mismatched"] == []
        assert cp["tree_size"] == 200 and seq == 201
    finally:
        await runner.cleanup()


async def test_build_tiles_resumes_and_reproduces_signed_checkpoints(
    trail: Trail,  # noqa: F811
) -> None:
    roots = []
    for n in (100, 400, 333):
        await trail.append(n)
        roots.append(await service.create_checkpoint(trail.app))
    # A log from before tiles: the tiles and their files are gone.
    await trail.sql("TRUNCATE forensic_tiles")
    log_dir = trail.app[FCONFIG].log_dir
    for path in sorted(log_dir.rglob("*"), reverse=True):
        if path.is_file():
            path.unlink()
    # Interrupted after one chunk: what was committed stays.
    async with trail.app[DB].acquire() as conn, conn.transaction():
        tail, _ = await store.lock_and_tail(conn)
        covered, _ = await tilestore.catch_up(conn, tail, 300)
    assert covered == 300
    env = {**os.environ, **trail.app[CONFIG].env}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", "forensics", "build-tiles"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert '"checkpoints_mismatched": []' in done.stdout
    async with trail.app[DB].acquire() as conn:
        assert await tilestore.size(conn) == await store.size(conn)
        load = tilestore.loader(conn)
        for cp in roots:
            assert (await tiles.root(load, cp["tree_size"])).hex() == cp["root"]
    assert (log_dir / "tile/0/000").exists() and (log_dir / "checkpoint").exists()
    assert (await service.verify(trail.app)).ok


PRODUCER = """
import asyncio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from forensics import service
from server.app import create_app
from server.config import load_config
async def main():
    runner = web.AppRunner(create_app(load_config()))
    await runner.setup()
    for k in range(6):
        await asyncio.gather(*(service.log_event(runner.app, 'PLAYBACK_REVOKED', None,
            f'p-{k}-{i}', {'reason': 'x'}) for i in range(50)))
    await runner.cleanup()
asyncio.run(main())
"""


async def test_appends_from_several_processes_while_proofs_are_served(
    trail: Trail,  # noqa: F811
) -> None:
    await trail.append(10)
    token = await auditor_token(trail)
    env = {**os.environ, **trail.app[CONFIG].env, "MHC_FORENSIC_SCHEDULER": "off"}
    producers = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", PRODUCER, env=env)
        for _ in range(3)
    ]
    served: list[dict[str, object]] = []

    async def serve() -> None:
        rng = random.Random(1)
        while any(p.returncode is None for p in producers):
            status, inc = await call(
                trail, token, "GET", f"/api/forensics/proofs/inclusion?seq={rng.randint(1, 10)}"
            )
            assert status == 200, inc
            served.append(inc)
            await asyncio.sleep(0)

    server = asyncio.create_task(serve())
    mine = await trail.append(300)
    assert [await p.wait() for p in producers] == [0, 0, 0]
    await server
    assert len(mine) == 300 and len(served) > 0
    cp = await service.create_checkpoint(trail.app)
    async with trail.app[DB].acquire() as conn:
        others = await conn.fetchval("SELECT count(*) FROM forensic_log WHERE subject LIKE 'p-%'")
        assert cp["tree_size"] == await store.size(conn) - 1  # its own CHECKPOINT_CREATED
    assert others == 900 and cp["tree_size"] >= 1210
    assert (await service.verify(trail.app)).ok
    vkey = trail.app[FCONFIG]
    head = verify_checkpoint(
        (vkey.log_dir / "checkpoint").read_text(),
        vkey.key_name,
        (await _public(trail)),
    )
    assert head.size == cp["tree_size"]
    # Every proof served mid-stream verifies, and its tree is a prefix of the final one.
    for inc in served:
        size = int(str(inc["tree_size"]))
        root = bytes.fromhex(str(inc["root"]))
        verify_inclusion(
            int(str(inc["leaf_index"])),
            size,
            leaf_hash(bytes.fromhex(str(inc["record_hash"]))),
            [bytes.fromhex(h) for h in inc["proof"]],  # type: ignore[attr-defined]
            root,
        )
        con = await service.consistency(trail.app, size, head.size)
        verify_consistency(
            size, head.size, [bytes.fromhex(h) for h in con["proof"]], root, head.root
        )


async def _public(trail: Trail) -> Ed25519PublicKey:  # noqa: F811
    return trail.app[SIGNER].public_key()
