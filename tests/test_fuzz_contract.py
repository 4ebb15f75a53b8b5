"""The API fuzzed from its own OpenAPI document against a running `mhc serve`.

Every operation gets a bounded number of generated requests (EXAMPLES), valid and
invalid, with an admin's token. No reply may be a 5xx, every refusal has the documented error
shape, and every reply matches the schema documented for its status and content type.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
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

from server.api import openapi
from server.app import create_app
from server.config import load_config
from server.localstack import free_port, fresh_database
from tests.conftest import make_config
from tests.services import Services

ROOT = Path(__file__).resolve().parents[1]
# Generated requests per operation, valid and invalid mixed; the run is exactly this bounded.
EXAMPLES = 25


@pytest.fixture(scope="module")
def served(services: Services) -> Iterator[tuple[str, str]]:
    """`mhc serve` on its own database and Redis db (its traffic spends no shared budgets);
    yields its URL and an admin's access token."""
    dsn = asyncio.run(fresh_database(services.database_url, "mhc_fuzz"))
    port = free_port()
    redis_url = urlsplit(services.redis_url)._replace(path="/3").geturl()
    cfg = make_config(
        services,
        DATABASE_URL=dsn,
        REDIS_URL=redis_url,
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
        yield url, _admin_token(url, dsn)
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


def _admin_token(url: str, dsn: str) -> str:
    email, password = f"fuzz-{uuid.uuid4().hex[:8]}@example.test", "fuzz-password"
    reply = requests.post(
        url + "/api/auth/register", json={"email": email, "password": password}, timeout=10
    )
    assert reply.status_code == 201, reply.text

    async def promote() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("UPDATE users SET role = 'admin' WHERE email = $1", email)
        finally:
            await conn.close()

    asyncio.run(promote())
    reply = requests.post(
        url + "/api/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access"])


@pytest.fixture(scope="module")
def api_schema(served: tuple[str, str]) -> Any:
    """The document as the running app serves it."""
    url, _ = served
    return schemathesis.openapi.from_url(url + "/api/openapi.json", wait_for_schema=10)


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
def test_operation_honours_its_contract(
    operation: str, api_schema: Any, served: tuple[str, str]
) -> None:
    method, path = operation.split(" ", 1)
    endpoint = api_schema[path][method]
    cases = st.one_of(
        endpoint.as_strategy(GenerationMode.POSITIVE), endpoint.as_strategy(GenerationMode.NEGATIVE)
    )
    auth = {"Authorization": f"Bearer {served[1]}"}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(case=cases)
    def check(case: Any) -> None:
        # Valid input may still meet a 404 (random ids) or a 409 (state): not a failure here.
        case.call_and_validate(
            headers=auth,
            additional_checks=[error_shape],
            excluded_checks=[positive_data_acceptance],
        )

    check()
