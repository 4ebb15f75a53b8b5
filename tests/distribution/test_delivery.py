"""Delivery to real sshd servers: the DDEX batch choreography, resume after a killed
connection, a host key that is not the pinned one, and backoff on an unreachable host."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from distribution import delivery, delivery_store
from distribution.delivery import DeliveryError
from distribution.package import PackageFile, ReleasePackage
from distribution.sftp import SftpError
from server.jobs import queue
from server.keys import CONFIG, DB
from server.localstack import free_port
from tests.conftest import Api
from tests.distribution.conftest import DistApp, Dsps, enqueue, make_package
from tests.sftp_server import SftpServer
from tests.streaming import until


async def _state(api: Api, release_id: uuid.UUID) -> dict[str, str]:
    async with api.app[DB].acquire() as conn:
        return {s.dsp: s.state for s in await delivery.statuses(conn, release_id)}


async def _batch(api: Api, dsp: str, bid: str) -> delivery_store.Batch:
    async with api.app[DB].acquire() as conn:
        found = await delivery_store.batch(conn, dsp, bid)
    assert found is not None
    return found


def _renames(server: SftpServer) -> list[tuple[str, str]]:
    out = []
    for line in server.sftp_log():
        m = re.match(r'posix-rename old "(.*)" new "(.*)"$', line)
        if m:
            out.append((m[1], m[2]))
    return out


async def _settled(server: SftpServer, killed: int = 0) -> None:
    """Wait until the server logged the end of every session but the `killed` ones (its log
    lines arrive a moment after the replies the client acted on)."""

    async def closed() -> bool:
        log = server.sftp_log()
        opened = sum(line.startswith("session opened") for line in log)
        return opened - killed == sum(line.startswith("session closed") for line in log)

    await until(closed, 10, "the SFTP sessions to end")


def _check_tree(server: SftpServer, package: ReleasePackage, bid: str) -> None:
    """Every file of the package in its release folder with its MD5, no temporary file left,
    and the marker renamed into place after every other file."""
    base = server.path(f"/inbox/{bid}")
    for f in package.files:
        remote = base / package.message_id / f.relpath
        assert hashlib.md5(remote.read_bytes()).hexdigest() == f.md5, f.relpath
    assert not [p for p in base.rglob("*") if p.name.endswith(".part")]
    marker = base / f"BatchComplete_{bid}.xml"
    manifest = marker.read_text()
    assert all(f.md5 in manifest for f in package.files)
    # (a redelivery re-sends every failed batch of the store, so others may share the log)
    renames = [(o, n) for o, n in _renames(server) if n.startswith(f"/inbox/{bid}/")]
    finals = [new for _old, new in renames]
    assert finals[-1] == f"/inbox/{bid}/BatchComplete_{bid}.xml"
    for f in package.files:
        final = f"/inbox/{bid}/{package.message_id}/{f.relpath}"
        assert finals.count(final) == 1, final  # uploaded once, renamed once
        assert (final + ".part", final) in renames
    assert all(old == new + ".part" for old, new in renames)  # nothing written in place
    opened = [
        line
        for line in server.sftp_log()
        if line.startswith(f'open "/inbox/{bid}/') and "WRITE" in line
    ]
    assert opened and all('.part" flags' in line for line in opened)


async def test_delivers_to_two_dsps_with_batch_complete_last(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    api = await dist_app(sshd.env())
    assert [t.code for t in delivery.enabled_dsps(api.app)] == ["spotify", "deezer"]
    release = uuid.uuid4()
    packages = [
        make_package(tmp_path, "spotify", release_id=release),
        make_package(tmp_path, "deezer", release_id=release),
    ]
    batches = dict(await enqueue(api, packages))
    assert set(batches) == {"spotify", "deezer"}

    async def delivered() -> bool:
        return await _state(api, release) == {"spotify": "delivered", "deezer": "delivered"}

    await until(delivered, 30, "both deliveries")
    await _settled(sshd.spotify)
    await _settled(sshd.deezer)
    _check_tree(sshd.spotify, packages[0], batches["spotify"])
    _check_tree(sshd.deezer, packages[1], batches["deezer"])
    status, metrics = await api.call("GET", "/metrics")
    assert status == 200
    assert 'mhc_distribution_delivery_attempts_total{dsp="deezer",outcome="delivered"}' in metrics
    # Each DSP got its own batch only.
    assert [p.name for p in sshd.spotify.path("/inbox").iterdir()] == [batches["spotify"]]

    # Running the job again (a redelivered queue entry) sends nothing and changes nothing.
    before = len(sshd.spotify.sftp_log())
    await delivery.deliver_job(api.app, {"dsp": "spotify", "batch": batches["spotify"]})
    assert len(sshd.spotify.sftp_log()) == before
    assert len((await _batch(api, "spotify", batches["spotify"])).attempts) == 1


async def test_interrupted_upload_resumes_from_the_part_exactly_once(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    server = sshd.spotify
    api = await dist_app(server.env("spotify"))
    total = 12_000_000
    package = make_package(tmp_path, "spotify", audio_bytes=total)
    [(_dsp, bid)] = await enqueue(api, [package])
    part = server.path(f"/inbox/{bid}/{package.message_id}/resources/A1.flac.part")

    # Freeze the server's session mid-file, then kill it: the connection dies under the upload.
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size > 0):
        assert time.monotonic() < deadline, "the upload never started"
        await asyncio.sleep(0.005)
    assert server.signal_sessions(signal.SIGSTOP)
    await asyncio.sleep(0.3)
    kept = part.stat().st_size
    assert 0 < kept < total
    marker = server.path(f"/inbox/{bid}/BatchComplete_{bid}.xml")
    assert not marker.exists()
    server.signal_sessions(signal.SIGKILL)

    async def delivered() -> bool:
        return await _state(api, package.release_id) == {"spotify": "delivered"}

    await until(delivered, 60, "the resumed delivery")
    await _settled(server, killed=1)
    _check_tree(server, package, bid)
    assert len((await _batch(api, "spotify", bid)).attempts) == 2
    # The second session opened the same .part without truncating it and wrote only the rest.
    log = server.sftp_log()
    name = f"/inbox/{bid}/{package.message_id}/resources/A1.flac.part"
    opens = [line for line in log if line.startswith(f'open "{name}"') and "WRITE" in line]
    assert len(opens) == 2
    assert "TRUNCATE" in opens[0] and "TRUNCATE" not in opens[1]
    assert f'close "{name}" bytes read 0 written {total - kept}' in log
    # and read it back to check the MD5 of the joined file
    assert f'close "{name}" bytes read {total} written 0' in log


async def test_a_part_that_does_not_match_is_uploaded_again(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    server = sshd.spotify
    api = await dist_app(server.env("spotify"))
    package = make_package(tmp_path, "spotify", audio_bytes=300_000)
    # A stale partial file with other bytes sits where the upload will continue.
    bid = delivery.batch_id()
    stale = f"/inbox/{bid}/{package.message_id}/resources/A1.flac.part"
    server.drop(stale, b"\0" * 100_000)
    async with api.app[DB].acquire() as conn, conn.transaction():
        await delivery_store.insert_batch(conn, "spotify", bid, [package])
    with pytest.raises(SftpError, match="did not match its MD5"):
        await delivery.deliver_job(api.app, {"dsp": "spotify", "batch": bid})
    assert not server.path(f"/inbox/{bid}/BatchComplete_{bid}.xml").exists()
    await delivery.deliver_job(api.app, {"dsp": "spotify", "batch": bid})
    assert await _state(api, package.release_id) == {"spotify": "delivered"}
    _check_tree_files_only(server, package, bid)


def _check_tree_files_only(server: SftpServer, package: ReleasePackage, bid: str) -> None:
    for f in package.files:
        data = server.path(f"/inbox/{bid}/{package.message_id}/{f.relpath}").read_bytes()
        assert hashlib.md5(data).hexdigest() == f.md5
    assert server.path(f"/inbox/{bid}/BatchComplete_{bid}.xml").exists()


async def _jobs_left(api: Api) -> list[queue.JobState]:
    name = api.app[CONFIG].env["MHC_JOBS_QUEUE"]
    conn = await asyncpg.connect(api.app[CONFIG].database_url)
    try:
        return [j for j in await queue.listing(conn, 1000) if j.name.startswith(name + ".")]
    finally:
        await conn.close()


async def test_host_key_mismatch_stops_without_sending_or_retrying(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    # The address answers with a key other than the pinned one, as a server put in the
    # DSP's place would: the pinned key is the other server's.
    impostor, pinned = sshd.spotify, sshd.deezer
    api = await dist_app(impostor.env("spotify", host_key=pinned.host_key_line))
    package = make_package(tmp_path, "spotify")
    [(_dsp, bid)] = await enqueue(api, [package])

    async def failed() -> bool:
        return await _state(api, package.release_id) == {"spotify": "failed"}

    await until(failed, 20, "the delivery to stop")
    async with api.app[DB].acquire() as conn:
        [status] = await delivery.statuses(conn, package.release_id)
    assert status.reason is not None
    assert "host key mismatch" in status.reason
    assert impostor.host_key.fingerprint in status.reason
    assert pinned.host_key.fingerprint in status.reason
    await asyncio.sleep(1.5)  # several retry delays: no attempt follows
    assert len((await _batch(api, "spotify", bid)).attempts) == 1
    assert await _jobs_left(api) == []
    # Nothing reached the impostor: no login, no file.
    assert "Accepted publickey" not in impostor.log()
    assert list(impostor.path("/inbox").iterdir()) == []


async def test_unreachable_host_is_retried_with_backoff_then_failed(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    env = sshd.spotify.env("spotify", port=str(free_port()))
    api = await dist_app({**env, "MHC_JOBS_MAX_ATTEMPTS": "4", "MHC_JOBS_RETRY_SECONDS": "0.3"})
    package = make_package(tmp_path, "spotify")
    [(_dsp, bid)] = await enqueue(api, [package])

    async def failed() -> bool:
        return await _state(api, package.release_id) == {"spotify": "failed"}

    await until(failed, 60, "the delivery to give up")
    batch = await _batch(api, "spotify", bid)
    assert len(batch.attempts) == 4  # bounded by MHC_JOBS_MAX_ATTEMPTS
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(batch.attempts)]
    assert gaps[0] >= 0.3 and gaps[-1] > gaps[0] * 1.5, gaps  # each wait longer than the last
    assert batch.reason is not None and "gave up after 4 attempts" in batch.reason
    assert "cannot reach" in batch.reason
    await asyncio.sleep(1)
    assert len((await _batch(api, "spotify", bid)).attempts) == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dsp": "tidal"}, "not configured"),
        ({"message_id": "../up"}, "not a safe folder name"),
        ({"message_id": ".."}, "not a safe folder name"),
        ({"files": (PackageFile("../../etc/x", 1, "0" * 32),)}, "not a safe relative path"),
        ({"files": (PackageFile("/abs.flac", 1, "0" * 32),)}, "not a safe relative path"),
        ({"message_file": "missing.xml"}, "not in the package"),
    ],
)
async def test_enqueue_refuses_unsafe_packages_and_writes_nothing(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    import dataclasses

    api = await dist_app(sshd.env())
    good = make_package(tmp_path, "spotify")
    bad = dataclasses.replace(make_package(tmp_path, "deezer"), **change)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError, match=message):
        await enqueue(api, [good, bad])
    assert await _state(api, good.release_id) == {}
    assert await _jobs_left(api) == []


async def test_after_the_key_is_confirmed_the_operator_redelivers(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    server, other = sshd.spotify, sshd.deezer
    queue_name = f"dist_{uuid.uuid4().hex[:8]}"
    wrong = server.env("spotify", host_key=other.host_key_line)
    # This process only enqueues; the first attempt is run by hand and meets the wrong key.
    stale = await dist_app({**wrong, "MHC_JOBS_QUEUE": queue_name, "MHC_JOBS_WORKER": "off"})
    package = make_package(tmp_path, "spotify")
    [(_dsp, bid)] = await enqueue(stale, [package])
    await delivery.deliver_job(stale.app, {"dsp": "spotify", "batch": bid})
    assert await _state(stale, package.release_id) == {"spotify": "failed"}

    # The operator sets the confirmed key and queues the failed batches again.
    fixed = {**stale.app[CONFIG].env, **server.env("spotify")}
    fixed["MHC_DSP_SPOTIFY_PARTY_ID"] = stale.app[CONFIG].env["MHC_DSP_SPOTIFY_PARTY_ID"]
    cli = [sys.executable, "-m", "server.cli", "deliveries"]
    async with stale.app[DB].acquire() as conn:
        [listed] = [b for b in await delivery_store.listing(conn) if b.id == bid]
    assert listed.state == "failed" and "host key mismatch" in (listed.reason or "")
    again = await asyncio.to_thread(
        subprocess.run,
        [*cli, "redeliver", "spotify"],
        env=fixed,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert bid in again.stdout
    worker = await dist_app({**server.env("spotify"), "MHC_JOBS_QUEUE": queue_name})

    async def delivered() -> bool:
        return await _state(worker, package.release_id) == {"spotify": "delivered"}

    await until(delivered, 30, "the redelivery")
    await _settled(server)
    _check_tree(server, package, bid)


async def test_concurrent_runs_of_one_batch_upload_it_once(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    server = sshd.spotify
    api = await dist_app({**server.env("spotify"), "MHC_JOBS_WORKER": "off"})
    package = make_package(tmp_path, "spotify", audio_bytes=2_000_000)
    [(_dsp, bid)] = await enqueue(api, [package])
    runs = [delivery.deliver_job(api.app, {"dsp": "spotify", "batch": bid}) for _ in range(4)]
    await asyncio.gather(*runs)
    assert await _state(api, package.release_id) == {"spotify": "delivered"}
    await _settled(server)
    _check_tree(server, package, bid)  # each file written and renamed once
    assert len((await _batch(api, "spotify", bid)).attempts) == 1
    assert sum(line.startswith("session opened") for line in server.sftp_log()) == 1


async def test_a_message_id_is_delivered_once_per_dsp(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    api = await dist_app({**sshd.env(), "MHC_JOBS_WORKER": "off"})
    package = make_package(tmp_path, "spotify")
    await enqueue(api, [package])
    with pytest.raises(DeliveryError, match="queued before"):
        await enqueue(api, [package])
    async with api.app[DB].acquire() as conn:
        assert len([b for b in await delivery_store.listing(conn) if b.dsp == "spotify"]) >= 1
        count = await conn.fetchval(
            "SELECT count(*) FROM distribution_deliveries WHERE message_id = $1",
            package.message_id,
        )
    assert count == 1
