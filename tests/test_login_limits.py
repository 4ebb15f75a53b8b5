"""Login failure limits belong to the account found, however its email is typed."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from server.keys import CONFIG
from tests.apps import app_with


async def utf8_database(dsn: str) -> str:
    """A database whose lower() folds non-ASCII letters, as a UTF-8 locale does in production."""
    name = f"mhc_utf8_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.utf8'"
        )
    finally:
        await conn.close()
    return f"{dsn.rpartition('/')[0]}/{name}"


async def test_case_variants_of_an_email_share_five_tries(
    app_server: tuple[web.Application, str],
) -> None:
    base = app_server[0]
    database_url = await utf8_database(str(base[CONFIG].database_url))
    async with app_with(base, database_url=database_url) as api:
        email, password = f"info-{uuid.uuid4().hex[:8]}@example.test", "right-password-1"
        status, _ = await api.call(
            "POST", "/api/auth/register", json={"email": email, "password": password}
        )
        assert status == 201
        # What the database finds as the same account: case and the dotted capital I.
        variants = [email, email.upper(), email.upper().replace("I", "İ")]
        for variant in variants[1:]:
            status, _ = await api.call(
                "POST", "/api/auth/login", json={"email": variant, "password": password}
            )
            assert status == 200, variant
        limit = api.app[CONFIG].login_max_failures_account
        statuses = []
        for i in range(limit):
            status, _ = await api.call(
                "POST",
                "/api/auth/login",
                json={"email": variants[i % len(variants)], "password": "wrong-password"},
            )
            statuses.append(status)
        assert set(statuses) == {401}
        for variant in variants:
            status, body = await api.call(
                "POST", "/api/auth/login", json={"email": variant, "password": password}
            )
            assert status == 429, (variant, body)


async def test_unknown_email_variants_share_one_counter(
    app_server: tuple[web.Application, str],
) -> None:
    async with app_with(app_server[0]) as api:
        local = f"imaginary-{uuid.uuid4().hex[:8]}"
        limit = api.app[CONFIG].login_max_failures_account
        variants = [
            f"{local}@example.test",
            f"{local.upper()}@EXAMPLE.TEST",
            f"{local.replace('i', 'İ')}@example.test",
            f"{local.replace('i', 'ı')}@example.test",
        ]
        statuses = []
        for i in range(limit + len(variants)):
            status, _ = await api.call(
                "POST",
                "/api/auth/login",
                json={"email": variants[i % len(variants)], "password": "wrong-password"},
            )
            statuses.append(status)
        assert statuses[:limit] == [401] * limit
        assert set(statuses[limit:]) == {429}
