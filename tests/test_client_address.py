"""The client address: forwarding headers count only from trusted proxies (app and nginx)."""

from __future__ import annotations

import ipaddress
import secrets
import uuid

from aiohttp import web

from server.config import ConfigError, load_config
from server.keys import CONFIG
from tests.apps import app_with
from tests.conftest import Api, Nginx
from tests.services import Services
from ticketing import qr


async def failed_login(api: Api, headers: dict[str, str]) -> int:
    status, _ = await api.call(
        "POST",
        "/api/auth/login",
        headers=headers,
        json={"email": f"nobody-{uuid.uuid4().hex}@example.test", "password": "wrong-password"},
    )
    return status


async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    app_server: tuple[web.Application, str],
) -> None:
    # The app trusts only a proxy network this test's loopback peer is not part of.
    untrusted = (ipaddress.ip_network("192.0.2.0/24"),)
    # A peer address of its own, so no other test's failures share its counter.
    peer = f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    async with app_with(
        app_server[0], source=peer, trusted_proxies=untrusted, login_max_failures_ip=3
    ) as api:
        statuses = [
            await failed_login(
                api, {"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"198.51.100.{i}"}
            )
            for i in range(5)
        ]
    # Every spoofed address is the same peer: its budget of 3 runs out.
    assert statuses == [401, 401, 401, 429, 429]


async def test_a_trusted_proxy_names_each_client(app_server: tuple[web.Application, str]) -> None:
    async with app_with(app_server[0], login_max_failures_ip=3) as api:
        # Behind the trusted proxy (loopback by default), each client has its own budget.
        statuses = [
            await failed_login(api, {"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(6)
        ]
        assert set(statuses) == {401}
        # Walked from the right: a hop the client wrote before the untrusted one is not believed,
        # and trusted hops are skipped.
        statuses = [
            await failed_login(api, {"X-Forwarded-For": f"10.9.{i}.1, 203.0.113.7, 127.0.0.1"})
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]


async def test_nginx_takes_the_client_from_a_trusted_terminator(
    api: Api, nginx: Nginx, services: Services
) -> None:
    text = (services.work_dir / "nginx" / "nginx.conf").read_text()
    for net in api.app[CONFIG].trusted_proxies:
        assert f"set_real_ip_from {net};" in text
    # Junk codes spend the per-address budget of whoever nginx says sent them.
    from tests.ticketing.conftest import make_user

    fan = await make_user(api)
    burst = 30  # MHC_VALIDATE_IP_BURST's default, which the session app keeps

    async def junk(addr: str) -> int:
        async with api.session.post(
            nginx.http_url + "/api/tickets/validate",
            json={"code": "A" * qr.CODE_LEN},
            headers={"Authorization": f"Bearer {fan['access']}", "X-Forwarded-For": addr},
        ) as resp:
            return resp.status

    statuses = [await junk("203.0.113.50") for _ in range(burst + 1)]
    assert set(statuses[:burst]) == {400} and statuses[burst] == 429
    assert await junk("203.0.113.51") == 400, "another client behind the terminator"


def test_trusted_proxies_are_validated() -> None:
    base = {
        "MHC_JWT_SECRET": "j" * 32,
        "MHC_PLAYBACK_SECRET": "p" * 32,
        "MHC_HOOK_SECRET": "h" * 32,
    }
    assert [str(n) for n in load_config(base).trusted_proxies] == ["127.0.0.0/8", "::1/128"]
    cfg = load_config({**base, "MHC_TRUSTED_PROXIES": "10.0.0.0/8, 172.16.0.1"})
    assert [str(n) for n in cfg.trusted_proxies] == ["10.0.0.0/8", "172.16.0.1/32"]
    try:
        load_config({**base, "MHC_TRUSTED_PROXIES": "10.0.0.0/33"})
    except ConfigError as exc:
        assert "MHC_TRUSTED_PROXIES" in str(exc)
    else:
        raise AssertionError("a bad CIDR must be refused")
