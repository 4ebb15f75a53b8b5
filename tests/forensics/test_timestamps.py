"""RFC 3161 timestamps of signed checkpoints from a real TSA (OpenSSL) on loopback: stored,
shipped in export bundles, checked offline (signature, imprint, time), off without a TSA."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from forensics import bundle as bf
from forensics import service, store
from forensics import timestamp as tsp
from forensics.keys import EXPORTS
from forensics.verify import verify_bundle
from server.app import create_app
from server.keys import DB
from server.localstack import free_port, fresh_database
from tests.conftest import make_config
from tests.forensics.tsa import Tsa, make_ca, running_tsa
from tests.services import Services


@pytest.fixture
async def tsa() -> AsyncIterator[Tsa]:
    async with running_tsa() as running:
        yield running


async def stamped_app(services: Services, **env: str) -> web.AppRunner:
    dsn = await fresh_database(services.database_url, "mhc_tsa")
    cfg = make_config(
        services,
        DATABASE_URL=dsn,
        MHC_PORT=str(free_port()),
        MHC_STATE_DIR=str(services.work_dir / dsn.rpartition("/")[2]),
        MHC_FORENSIC_SCHEDULER="off",
        **env,
    )
    runner = web.AppRunner(create_app(cfg))
    await runner.setup()
    return runner


async def append(app: web.Application, n: int) -> None:
    for i in range(n):
        await service.log_event(app, "PLAYBACK_REVOKED", None, f"s-{i}", {"reason": "x"})


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return next(into.iterdir())


def rewrite_manifest(folder: Path) -> None:
    """Recompute the (unsigned) manifest digests, as a forger would."""
    manifest = json.loads((folder / bf.MANIFEST).read_text())
    manifest["files"] = {n: bf.file_digest(folder / n) for n in manifest["files"]}
    (folder / bf.MANIFEST).write_text(json.dumps(manifest))


async def test_checkpoints_are_timestamped_and_verified_offline(
    services: Services, tsa: Tsa, tmp_path: Path
) -> None:
    runner = await stamped_app(
        services, MHC_FORENSIC_TSA_URL=tsa.url, MHC_FORENSIC_TSA_CERTS=str(tsa.ca_pem)
    )
    app = runner.app
    try:
        await append(app, 5)
        cp = await service.create_checkpoint(app)
        assert cp["timestamped_at"] is not None and len(tsa.requests) == 1
        async with app[DB].acquire() as conn:
            row = await store.checkpoint_timestamp(conn, cp["id"])
        assert row is not None
        stamp = tsp.verify(bytes(row["response"]), cp["note"].encode(), tsa.ca_pem.read_bytes())
        assert stamp.gen_time == row["gen_time"]
        export = await service.export(app, 1, None)
        async with app[DB].acquire() as conn:
            row = await store.export(conn, uuid.UUID(export["id"]))
        assert row is not None
        path = app[EXPORTS].open(row["location"])
    finally:
        await runner.cleanup()
    report = verify_bundle(path, tsa_certs=tsa.ca_pem.read_bytes())
    assert report.ok and report.status("timestamp") == "OK", report.render()
    cli = subprocess.run(
        [sys.executable, "-m", "forensics.verify", str(path), "--tsa-certs", str(tsa.ca_pem)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0 and "timestamp" in cli.stdout, cli.stdout
    # Another authority's root does not vouch for this token.
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _, _ = make_ca(other, "Someone Else")
    report = verify_bundle(path, tsa_certs=other_ca.read_bytes())
    assert not report.ok and report.status("timestamp") == "FAIL"
    # A token over another checkpoint (a replayed timestamp) fails on its message imprint.
    folder = unpack(path, tmp_path / "forged")
    async with running_tsa() as again:
        foreign = await tsp.obtain(again.url, again.ca_pem.read_bytes(), b"other note\n", 10)
        (folder / bf.TIMESTAMP).write_bytes(foreign.response)
        (folder / bf.TSA_CERTS).write_bytes(again.ca_pem.read_bytes())
        rewrite_manifest(folder)
        report = verify_bundle(folder)
    assert not report.ok and report.status("timestamp") == "FAIL", report.render()
    assert "Mismatch" in next(c.detail for c in report.checks if c.name == "timestamp")
    # A damaged token fails too.
    (folder / bf.TIMESTAMP).write_bytes(b"\x30\x03\x02\x01\x00")
    rewrite_manifest(folder)
    assert verify_bundle(folder).status("timestamp") == "FAIL"


async def test_no_tsa_means_no_timestamps_and_a_down_tsa_blocks_nothing(
    services: Services, tmp_path: Path
) -> None:
    runner = await stamped_app(services)
    try:
        await append(runner.app, 3)
        cp = await service.create_checkpoint(runner.app)
        assert cp["timestamped_at"] is None
    finally:
        await runner.cleanup()
    make_ca(tmp_path)
    runner = await stamped_app(
        services,
        MHC_FORENSIC_TSA_URL=f"http://127.0.0.1:{free_port()}/tsa",
        MHC_FORENSIC_TSA_CERTS=str(tmp_path / "ca.pem"),
        MHC_FORENSIC_TSA_TIMEOUT="2",
    )
    try:
        await append(runner.app, 3)
        cp = await service.create_checkpoint(runner.app)
        assert cp["timestamped_at"] is None and cp["tree_size"] >= 3
    finally:
        await runner.cleanup()
