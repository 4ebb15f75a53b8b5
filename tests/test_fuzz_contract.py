"""The API fuzzed from its own OpenAPI document against a running `mhc serve`.

Every operation gets a bounded number of generated requests (EXAMPLES), valid and invalid,
as an admin, at random ids and at real ones (an event, a paid ticket, a playback session, an
export). No reply may be a 5xx, every refusal has the documented error shape, and every reply
matches the schema documented for its status and content type.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.accounts.tokens import issue_access
from server.api import openapi
from server.app import create_app
from server.config import load_config
from server.localstack import free_port, fresh_database
from tests.conftest import make_config
from tests.services import Services

ROOT = Path(__file__).resolve().parents[1]
# Generated requests per operation, valid and invalid mixed; the run is exactly this bounded.
EXAMPLES = 30
# tus chunks are raw bytes: any bytes are a well-formed body.
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=4096))


@dataclass(frozen=True)
class Served:
    """The fuzzed app, an admin to act as, and real objects for path parameters."""

    url: str
    jwt_secret: str
    admin_id: uuid.UUID
    known: dict[str, str]

    def token(self) -> str:
        """A fresh admin token: a fuzzed logout or role change cannot spoil the next request."""
        return issue_access(self.jwt_secret, self.admin_id, "admin", time.time(), 600)[0]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One setup request as the admin; returns the JSON reply."""
        reply = requests.request(
            method,
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
        )
        assert reply.status_code < 300, (path, reply.text)
        return reply.json()


@pytest.fixture(scope="module")
def served(services: Services) -> Iterator[Served]:
    """`mhc serve` on its own database and Redis db, so its traffic spends no shared budget."""
    dsn = asyncio.run(fresh_database(services.database_url, "mhc_fuzz"))
    port = free_port()
    cfg = make_config(
        services,
        DATABASE_URL=dsn,
        REDIS_URL=urlsplit(services.redis_url)._replace(path="/3").geturl(),
        MHC_PORT=str(port),
        MHC_STATE_DIR=str(services.work_dir / "fuzz-state"),
    )
    env = {
        **cfg.env,
        "MHC_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = (services.work_dir / f"fuzz-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log.name)
        admin = Served(url, cfg.jwt_secret, _admin(url, dsn), {})
        yield Served(url, cfg.jwt_secret, admin.admin_id, _objects(admin))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mhc serve exited; see {log}")
        try:
            if requests.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"mhc serve did not become ready; see {log}")


def _register(url: str) -> dict[str, Any]:
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.test"
    reply = requests.post(
        url + "/api/auth/register", json={"email": email, "password": "fuzz-password"}, timeout=10
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["user"]  # type: ignore[no-any-return]


def _admin(url: str, dsn: str) -> uuid.UUID:
    """An account made admin in the database, as `mhc user` does for the first one."""
    user_id = uuid.UUID(_register(url)["id"])

    async def promote() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("UPDATE users SET role = 'admin' WHERE id = $1", user_id)
        finally:
            await conn.close()

    asyncio.run(promote())
    return user_id


def _objects(admin: Served) -> dict[str, str]:
    """Real objects for the path parameters, so replies past the 404 are checked too."""
    show = {"title": "Fuzz", "starts_at": "2030-01-01T20:00:00Z", "price": 500, "capacity": 50}
    event = admin.call("POST", "/api/live/create", {**show, "replay_access": True})
    doomed = admin.call("POST", "/api/live/create", show)
    held = admin.call("POST", "/api/tickets/purchase", {"event_id": event["id"]})
    paid = admin.call("POST", held["payment"]["confirm_url"])
    assert paid["ticket"]["status"] == "valid", paid
    session = admin.call("POST", f"/api/live/{event['id']}/playback")
    export = admin.call("POST", "/api/forensics/export")
    upload = requests.post(
        admin.url + "/api/videos/uploads",
        headers={
            "Authorization": f"Bearer {admin.token()}",
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "1000",
        },
        timeout=30,
    )
    assert upload.status_code == 201, upload.text
    return {
        "event": event["id"],
        "doomed": doomed["id"],
        "ticket": paid["ticket"]["id"],
        "payment": held["payment"]["id"],
        "session": session["session_id"],
        "export": export["id"],
        "user": _register(admin.url)["id"],
        "video": upload.headers["Video-Id"],
        "upload": upload.headers["Location"].rsplit("/", 1)[1],
    }


def _path_values(path: str, known: dict[str, str]) -> dict[str, str]:
    """Which real object each path parameter of `path` names."""
    if path.startswith("/api/live/{id}/cancel"):
        return {"id": known["doomed"]}
    if path.startswith(("/api/live/{id}", "/api/replays/")):
        return {"id": known["event"], "user_id": known["user"]}
    if path.startswith("/api/tickets/{id}"):
        return {"id": known["ticket"]}
    if path.startswith("/api/payments/dev/"):
        return {"payment": known["payment"]}
    if path.startswith("/api/playback/"):
        return {"id": known["session"]}
    if path.startswith("/api/forensics/export/{id}"):
        return {"id": known["export"]}
    if path.startswith("/api/admin/users/"):
        return {"id": known["user"]}
    if path.startswith("/api/videos/uploads/"):
        return {"upload_id": known["upload"]}
    if path.startswith("/api/videos/{id}"):
        return {"id": known["video"]}
    return {}


@pytest.fixture(scope="module")
def api_schema(served: Served) -> Any:
    """The document as the running app serves it."""
    return schemathesis.openapi.from_url(served.url + "/api/openapi.json", wait_for_schema=10)


def _operations() -> list[str]:
    """Every documented operation, read from the same declarations at collection time."""
    secret = "x" * 32
    cfg = load_config(
        {
            "DATABASE_URL": "postgresql://unused/db",
            "REDIS_URL": "redis://unused",
            "MHC_JWT_SECRET": secret,
            "MHC_PLAYBACK_SECRET": secret,
            "MHC_HOOK_SECRET": secret,
            "MHC_STATE_DIR": "/nonexistent",
        }
    )
    doc = openapi(create_app(cfg))
    return [f"{method.upper()} {path}" for path, ops in doc["paths"].items() for method in ops]


@schemathesis.check
def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refusal is `{"error": {"code": str, "message": str}}`, whatever the route."""
    if response.status_code < 400:
        return None
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} without an error object: {body!r}"
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str), body
    return True


@pytest.mark.parametrize("operation", _operations())
def test_operation_honours_its_contract(operation: str, api_schema: Any, served: Served) -> None:
    method, path = operation.split(" ", 1)
    endpoint = api_schema[path][method]
    real = _path_values(path, served.known)
    strategies = [endpoint.as_strategy(mode) for mode in GenerationMode]
    if real:
        strategies += [endpoint.as_strategy(mode, path_parameters=real) for mode in GenerationMode]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(case=st.one_of(strategies))
    def check(case: Any) -> None:
        # Valid input may still meet a 404 (random ids) or a 409 (state): not a failure here.
        case.call_and_validate(
            headers={"Authorization": f"Bearer {served.token()}"},
            additional_checks=[error_shape],
            excluded_checks=[positive_data_acceptance],
        )

    check()
