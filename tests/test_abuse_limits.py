"""Registration is rate-limited per address, and password hashing is bounded."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from pathlib import Path

from aiohttp import web

from tests.apps import app_with
from tests.conftest import Api


async def register(api: Api, address: str) -> int:
    status, _ = await api.call(
        "POST",
        "/api/auth/register",
        headers={"X-Forwarded-For": address},
        json={
            "email": f"fan-{uuid.uuid4().hex}@example.test",
            "password": secrets.token_urlsafe(12),
        },
    )
    return status


async def test_concurrent_registrations_beyond_the_limit_get_429(
    app_server: tuple[web.Application, str],
) -> None:
    async with app_with(app_server[0], register_per_hour_ip=5) as api:
        address = f"203.0.113.{secrets.randbelow(250)}"
        statuses = await asyncio.gather(*(register(api, address) for _ in range(12)))
        assert sorted(statuses) == [201] * 5 + [429] * 7
        assert await register(api, "198.51.100.200") == 201, "another address has its own"


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_a_burst_of_registrations_hashes_a_bounded_number_at_once(
    app_server: tuple[web.Application, str],
) -> None:
    # 24 parallel registrations from 24 addresses, with 2 hashes at a time: the peak memory
    # grows by about two Argon2 buffers (64 MiB each), not by one per registration.
    async with app_with(app_server[0], password_hash_concurrency=2) as api:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
        before = _peak_rss_kib()
        statuses = await asyncio.gather(*(register(api, f"198.18.7.{i}") for i in range(24)))
        grown_mib = (_peak_rss_kib() - before) / 1024
    assert set(statuses) == {201}
    assert grown_mib < 3.5 * 64, f"peak RSS grew by {grown_mib:.0f} MiB"
