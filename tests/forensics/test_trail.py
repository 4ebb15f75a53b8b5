"""The audit trail against real PostgreSQL: one chain under concurrency, tamper detection,
the database refusing changes, erasure, proofs, exports and the offline verifier."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from forensics import privacy, registry, service
from forensics.chain import EncodingError
from forensics.merkle import leaf_hash, verify_consistency, verify_inclusion
from forensics.store import APPEND_LOCK
from server.app import create_app
from server.keys import CONFIG, DB
from server.localstack import free_port, fresh_database
from tests.conftest import Api, admin_token, make_config, promote
from tests.services import Services


class Trail:
    """A separate app on its own fresh database, so tampering harms no other test."""

    def __init__(self, app: web.Application, url: str, dsn: str) -> None:
        self.app, self.url, self.dsn = app, url, dsn

    async def append(self, n: int, prefix: str = "t") -> list[int]:
        return list(
            await asyncio.gather(
                *(
                    service.log_event(
                        self.app, "PLAYBACK_REVOKED", None, f"{prefix}-{i}", {"reason": "x"}
                    )
                    for i in range(n)
                )
            )
        )

    async def sql(self, *statements: str) -> None:
        """Run statements as a superuser with triggers off (an attacker with DB access)."""
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("SET session_replication_role = replica")
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()


@pytest.fixture
async def trail(services: Services) -> AsyncIterator[Trail]:
    dsn = await fresh_database(services.database_url, "mhc_trail")
    port = free_port()
    cfg = make_config(
        services,
        DATABASE_URL=dsn,
        MHC_PORT=str(port),
        MHC_STATE_DIR=str(services.work_dir / dsn.rpartition("/")[2]),
    )
    app = create_app(cfg)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield Trail(app, f"http://127.0.0.1:{port}", dsn)
    await runner.cleanup()


async def auditor_token(trail: Trail) -> str:
    async with aiohttp.ClientSession() as session:
        api = Api(session, trail.url, trail.app)
        user = await api.register("fan")
        return await promote(api, user, "auditor")


async def call(
    trail: Trail, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        api = Api(session, trail.url, trail.app)
        return await api.call(method, path, token=token, json=body)


async def test_concurrent_appends_form_one_contiguous_chain(trail: Trail) -> None:
    seqs = await trail.append(400)
    assert sorted(seqs) == list(range(1, 401))
    result = await service.verify(trail.app)
    assert result.ok and result.checked == 400


async def test_an_unencodable_record_is_refused_alone(trail: Trail) -> None:
    """Appends in flight together share a batch; one whose data the chain cannot encode is
    refused to its caller, takes no seq, and the others are appended around it."""
    before = (await service.verify(trail.app)).last
    bad = {"reason": 1.5}, {"reason": "\ud800"}
    results = await asyncio.gather(
        *(
            service.log_event(
                trail.app,
                "PLAYBACK_REVOKED",
                None,
                f"batch-{i}",
                bad[i // 6] if i in (3, 6) else {"reason": "x"},
            )
            for i in range(10)
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert [type(r) for r in refused] == [EncodingError, EncodingError], results
    assert sorted(r for r in results if isinstance(r, int)) == list(range(before + 1, before + 9))
    result = await service.verify(trail.app)
    assert result.ok and result.last == before + 8, result


async def test_two_processes_share_one_chain(trail: Trail) -> None:
    script = (
        "import asyncio, sys\n"
        "from aiohttp import web\n"
        "from forensics import service\n"
        "from server.app import create_app\n"
        "from server.config import load_config\n"
        "async def main():\n"
        "    runner = web.AppRunner(create_app(load_config()))\n"
        "    await runner.setup()\n"
        "    await asyncio.gather(*(service.log_event(runner.app, 'PLAYBACK_REVOKED', None,\n"
        "        f'other-{i}', {'reason': 'x'}) for i in range(300)))\n"
        "    await runner.cleanup()\n"
        "asyncio.run(main())\n"
    )
    cfg = trail.app[CONFIG]
    env = {**os.environ, **cfg.env, "MHC_FORENSIC_SCHEDULER": "off"}
    other = await asyncio.create_subprocess_exec(sys.executable, "-c", script, env=env)
    mine = await trail.append(300)
    assert await other.wait() == 0
    async with trail.app[DB].acquire() as conn:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM forensic_log ORDER BY seq")]
        subjects = await conn.fetchval(
            "SELECT count(*) FROM forensic_log WHERE subject LIKE 'other-%'"
        )
    assert seqs == list(range(1, 601)) and subjects == 300 and len(mine) == 300
    assert (await service.verify(trail.app)).ok


async def test_writer_killed_mid_append_leaves_no_gap(trail: Trail) -> None:
    await trail.append(5)
    script = (
        "import asyncio, asyncpg, sys\n"
        "async def main():\n"
        "    conn = await asyncpg.connect(sys.argv[1])\n"
        "    tr = conn.transaction(); await tr.start()\n"
        f"    await conn.execute('SELECT pg_advisory_xact_lock({APPEND_LOCK})')\n"
        "    await conn.execute(\"INSERT INTO forensic_log VALUES (6, now(), 'X', NULL, NULL, "
        "'{}'::jsonb, decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex'))\")\n"
        "    print('holding', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    victim = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, trail.dsn, stdout=asyncio.subprocess.PIPE
    )
    assert victim.stdout is not None
    assert (await asyncio.wait_for(victim.stdout.readline(), 30)).strip() == b"holding"
    waiting = asyncio.ensure_future(trail.append(3))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "appends wait for the lock holder"
    victim.send_signal(signal.SIGKILL)
    await victim.wait()
    seqs = await asyncio.wait_for(waiting, 30)
    assert sorted(seqs) == [6, 7, 8]
    assert (await service.verify(trail.app)).ok


async def test_database_refuses_update_delete_truncate(trail: Trail) -> None:
    await trail.append(2)
    conn = await asyncpg.connect(trail.dsn)
    try:
        for statement in (
            "UPDATE forensic_log SET type = 'X' WHERE seq = 1",
            "DELETE FROM forensic_log WHERE seq = 2",
            "TRUNCATE forensic_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.close()
    assert (await service.verify(trail.app)).checked == 2


@pytest.mark.parametrize(
    "tamper,first_bad",
    [
        (['UPDATE forensic_log SET data = \'{"reason": "y"}\' WHERE seq = 7'], 7),
        (["DELETE FROM forensic_log WHERE seq = 5"], 5),
        (
            [
                "UPDATE forensic_log SET seq = 1000 WHERE seq = 4",
                "UPDATE forensic_log SET seq = 4 WHERE seq = 9",
                "UPDATE forensic_log SET seq = 9 WHERE seq = 1000",
            ],
            4,
        ),
        (["UPDATE forensic_log SET hash = decode(repeat('ab', 32), 'hex') WHERE seq = 8"], 8),
        (["UPDATE forensic_log SET subject = 'someone-else' WHERE seq = 3"], 3),
    ],
)
async def test_tampering_is_pinpointed(trail: Trail, tamper: list[str], first_bad: int) -> None:
    await trail.append(12)
    token = await auditor_token(trail)
    status, before = await call(trail, token, "POST", "/api/forensics/verify")
    assert status == 200 and before["ok"], before
    await trail.sql(*tamper)
    status, after = await call(trail, token, "POST", "/api/forensics/verify")
    assert status == 200 and not after["ok"] and after["first_bad_seq"] == first_bad, after


async def test_truncated_tail_is_caught_by_the_checkpoint(trail: Trail) -> None:
    await trail.append(10)
    checkpoint = await service.create_checkpoint(trail.app)
    size = checkpoint["tree_size"]
    await trail.sql(f"DELETE FROM forensic_log WHERE seq > {size - 3}")
    result = await service.verify(trail.app)
    assert not result.ok and result.first_bad_seq == size - 2


async def test_registry_refuses_unknown_types_and_missing_fields(trail: Trail) -> None:
    with pytest.raises(registry.UnknownEvent, match="unknown"):
        await service.log_event(trail.app, "SOMETHING_ODD", None, "s", {})
    with pytest.raises(registry.UnknownEvent, match="missing"):
        await service.log_event(trail.app, "PLAYBACK_REVOKED", None, "s", {})
    with pytest.raises(registry.UnknownEvent, match="actor"):
        await service.log_event(trail.app, "USER_BANNED", None, "s", {})
    with pytest.raises(ValueError):
        await service.log_event(trail.app, "PLAYBACK_REVOKED", None, "s", {"reason": 1.5})


async def test_logins_are_logged_without_personal_data_and_erasure_keeps_chain(
    trail: Trail,
) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, trail.url, trail.app)
        user = await api.register("fan")
        await api.call(
            "POST",
            "/api/auth/login",
            json={"email": user["email"], "password": user["password"]},
            headers={"X-Real-IP": "203.0.113.7"},
        )
        admin = await admin_token(api)
    async with trail.app[DB].acquire() as conn:
        rows = await conn.fetch("SELECT * FROM forensic_log WHERE subject = $1", user["user"]["id"])
        dump = " ".join(str(dict(r)) for r in await conn.fetch("SELECT * FROM forensic_log"))
        login = next(r for r in rows if r["type"] == "USER_LOGIN")
        ref = uuid.UUID(login["data"]["personal_ref"])
        assert await privacy.unseal(conn, ref) == {"ip": "203.0.113.7"}
    assert user["email"] not in dump and "203.0.113.7" not in dump
    status, body = await call(
        trail, admin, "POST", "/api/forensics/erase", {"subject": user["user"]["id"]}
    )
    assert status == 200 and body["erased_blobs"] >= 1
    async with trail.app[DB].acquire() as conn:
        assert await privacy.unseal(conn, ref) is None
        erased = await conn.fetchval(
            "SELECT count(*) FROM forensic_log WHERE type = 'DATA_ERASED' AND subject = $1",
            user["user"]["id"],
        )
    assert erased == 1 and (await service.verify(trail.app)).ok


async def test_erasure_before_any_personal_data_is_sticky(trail: Trail) -> None:
    """Erasing a subject with nothing stored yet still stops what comes later being readable."""
    async with aiohttp.ClientSession() as session:
        api = Api(session, trail.url, trail.app)
        user = await api.register("fan")
        admin = await admin_token(api)
        subject = user["user"]["id"]
        status, body = await api.call(
            "POST", "/api/forensics/erase", token=admin, json={"subject": subject}
        )
        assert status == 200 and body["erased_blobs"] == 0, body
        status, _ = await api.call(
            "POST", "/api/auth/login", json={"email": user["email"], "password": user["password"]}
        )
        assert status == 200
        status, body = await api.call(
            "GET", f"/api/forensics/logs?subject={subject}&type=USER_LOGIN", token=admin
        )
    assert status == 200 and len(body["records"]) == 1
    assert "personal_ref" not in body["records"][0]["data"], "nothing new is sealed after erasure"


async def test_routes_need_auditor_or_admin(trail: Trail) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, trail.url, trail.app)
        fan = await api.register("fan")
        for method, path in (
            ("GET", "/api/forensics/logs"),
            ("POST", "/api/forensics/verify"),
            ("POST", "/api/forensics/snapshot"),
            ("POST", "/api/forensics/export"),
        ):
            status, _ = await api.call(method, path, token=fan["access"])
            assert status == 403, path
        status, _ = await api.call(
            "POST", "/api/forensics/erase", token=await auditor_token(trail), json={"subject": "x"}
        )
        assert status == 403


async def test_logs_filter_and_paginate(trail: Trail) -> None:
    await trail.append(30, prefix="page")
    token = await auditor_token(trail)
    seen: list[int] = []
    after = 0
    while True:
        status, body = await call(
            trail, token, "GET", f"/api/forensics/logs?type=PLAYBACK_REVOKED&limit=7&after={after}"
        )
        assert status == 200
        seen += [r["seq"] for r in body["records"]]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    assert len(seen) == 30 and seen == sorted(seen)
    status, body = await call(trail, token, "GET", "/api/forensics/logs?subject=page-3")
    assert [r["subject"] for r in body["records"]] == ["page-3"]
    for bad in ("limit=abc", "since=yesterday", "after=-1"):
        status, _ = await call(trail, token, "GET", f"/api/forensics/logs?{bad}")
        assert status == 400, bad


async def test_proofs_verify_against_signed_checkpoints(trail: Trail) -> None:
    await trail.append(20)
    token = await auditor_token(trail)
    status, cp1 = await call(trail, token, "POST", "/api/forensics/snapshot")
    assert status == 201 and cp1["note"].count("\n") >= 4
    await trail.append(13)
    status, cp2 = await call(trail, token, "POST", "/api/forensics/snapshot")
    status, inc = await call(
        trail, token, "GET", f"/api/forensics/proofs/inclusion?seq=5&size={cp2['tree_size']}"
    )
    assert status == 200
    verify_inclusion(
        4,
        cp2["tree_size"],
        leaf_hash(bytes.fromhex(inc["record_hash"])),
        [bytes.fromhex(h) for h in inc["proof"]],
        bytes.fromhex(cp2["root"]),
    )
    status, con = await call(
        trail,
        token,
        "GET",
        f"/api/forensics/proofs/consistency?size1={cp1['tree_size']}&size2={cp2['tree_size']}",
    )
    verify_consistency(
        cp1["tree_size"],
        cp2["tree_size"],
        [bytes.fromhex(h) for h in con["proof"]],
        bytes.fromhex(cp1["root"]),
        bytes.fromhex(cp2["root"]),
    )
    for bad in ("inclusion?seq=0", "inclusion?seq=99999", "inclusion", "consistency?size1=99999"):
        status, _ = await call(trail, token, "GET", f"/api/forensics/proofs/{bad}")
        assert status == 400, bad


async def test_proofs_refuse_a_tree_size_beyond_the_log(trail: Trail) -> None:
    """A proof for a tree the log does not have could never verify: 400, not a bogus proof."""
    await trail.append(6)
    token = await auditor_token(trail)
    status, body = await call(trail, token, "GET", "/api/forensics/logs?limit=1000")
    n = body["records"][-1]["seq"]
    for bad in (
        f"inclusion?seq=2&size={n + 1}",
        "inclusion?seq=2&size=99999",
        f"consistency?size1=2&size2={n + 1}",
        f"consistency?size1={n + 1}",
    ):
        status, body = await call(trail, token, "GET", f"/api/forensics/proofs/{bad}")
        assert status == 400 and body["error"]["code"] == "invalid_range", (bad, body)
    status, body = await call(
        trail, token, "GET", f"/api/forensics/proofs/inclusion?seq=2&size={n}"
    )
    assert status == 200 and body["tree_size"] == n


async def test_corrupt_record_during_export_is_a_logged_500(
    trail: Trail, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure inside the export is the server's fault, not the caller's range."""
    await trail.append(5)
    token = await auditor_token(trail)
    await trail.sql("UPDATE forensic_log SET data = '{\"reason\": 1.5}' WHERE seq = 3")
    status, body = await call(trail, token, "POST", "/api/forensics/export", {"first": 1})
    assert status == 500 and body["error"]["code"] == "internal", body
    logged = [r.exc_info[1] for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert any("float" in str(exc) for exc in logged), "the failure is logged with its cause"
    status, body = await call(trail, token, "POST", "/api/forensics/export", {"first": 99})
    assert status == 400 and body["error"]["code"] == "invalid_range", body


async def test_exports_verify_offline_and_chain_to_each_other(trail: Trail, tmp_path: Path) -> None:
    await trail.append(25)
    token = await auditor_token(trail)
    status, first = await call(trail, token, "POST", "/api/forensics/export")
    assert status == 201 and first["first"] == 1, first
    await trail.append(10)
    status, second = await call(trail, token, "POST", "/api/forensics/export")
    assert status == 201 and second["first"] == first["last"] + 1
    assert second["previous_tree_size"] == first["last"]
    status, report = await call(trail, token, "GET", f"/api/forensics/export/{second['id']}/verify")
    assert status == 200 and report["ok"], report["report"]
    assert report["report"].startswith(f"bundle {second['bundle']}\n")
    assert str(trail.app[CONFIG].state_dir) not in report["report"]
    # The reply names the bundle; where the server keeps it is not the caller's business.
    assert "location" not in second and "/" not in second["bundle"]
    assert second["bundle"].startswith("audit-") and second["bundle"].endswith(".tar.gz")
    stored = trail.app[CONFIG].state_dir / "forensic-exports" / second["bundle"]
    assert stored.stat().st_mode & 0o222 == 0, "bundles are read-only"
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{trail.url}/api/forensics/export/{second['id']}/bundle",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 200
            (tmp_path / "b.tar.gz").write_bytes(await resp.read())
        async with session.get(f"{trail.url}/api/forensics/public-key") as resp:
            (tmp_path / "key.vkey").write_text(await resp.text())
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics.verify",
            str(tmp_path / "b.tar.gz"),
            "--key",
            str(tmp_path / "key.vkey"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # One altered byte in a record inside the bundle: the verifier names the record.
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    records = next((tmp_path / "x").glob("*/records.jsonl"))
    text = records.read_text().replace('"reason":"x"', '"reason":"z"', 1)
    records.write_text(text)
    bad = subprocess.run(
        [sys.executable, "-m", "forensics.verify", str(records.parent)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "FAIL" in bad.stdout


async def test_daily_job_cli_runs_once_and_writes_worm_bundle(trail: Trail) -> None:
    await trail.append(8)
    cfg = trail.app[CONFIG]
    env = {**os.environ, **cfg.env}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "forensics", "daily"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    exports = list((cfg.state_dir / "forensic-exports").glob("audit-*.tar.gz"))
    assert len(exports) == 1
    assert exports[0].stat().st_mode & 0o222 == 0, "bundles are written read-only"
    for options in ([], ["--check-form", "--jobs", "1"]):
        verify = subprocess.run(
            [
                sys.executable,
                "-m",
                "server.cli",
                "forensics",
                "verify-bundle",
                str(exports[0]),
                *options,
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert verify.returncode == 0, verify.stdout
        form = "each line canonical" if options else "byte for byte under the signed root"
        assert form in verify.stdout, verify.stdout
    from forensics.worm import AlreadyExists, LocalWormStore

    store = LocalWormStore(cfg.state_dir / "forensic-exports")
    with pytest.raises(AlreadyExists):
        store.put(exports[0].name, exports[0])
