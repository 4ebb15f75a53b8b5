"""Forgot and reset password against a real SMTP server (aiosmtpd on loopback): the mail, the
single-use token, revocation of every session, and the attacks (reuse, expiry, guessing,
enumeration, flooding)."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from server.app import create_app
from server.clock import Clock
from server.keys import CLOCK, CONFIG
from server.localstack import free_port
from tests.conftest import Api
from tests.streaming import until

CODE = re.compile(r"Your reset code: (\S+)")


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        """Messages sent to `address`."""
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a loopback port."""
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(scope="module")
async def mail_app(
    app_server: tuple[web.Application, str], inbox: tuple[Inbox, int]
) -> AsyncIterator[tuple[web.Application, str]]:
    """An app process that mails through the test's SMTP server and runs its own jobs."""
    port = free_port()
    base = app_server[0][CONFIG]
    env = {
        "MHC_SMTP_HOST": "127.0.0.1",
        "MHC_SMTP_PORT": str(inbox[1]),
        "MHC_SMTP_FROM": "MHC Live <no-reply@mhc.test>",
        "MHC_PASSWORD_RESET_URL": "https://mhc.test/reset",
        "MHC_JOBS_QUEUE": "mail_app",
    }
    app = create_app(dataclasses.replace(base, port=port, env={**base.env, **env}), Clock())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield app, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def mapi(mail_app: tuple[web.Application, str]) -> AsyncIterator[Api]:
    """A client of the mailing app; each test comes from its own address."""
    async with aiohttp.ClientSession(
        headers={"X-Forwarded-For": "10." + ".".join(str(b) for b in secrets.token_bytes(3))}
    ) as session:
        yield Api(session, mail_app[1], mail_app[0])


async def _mail_code(inbox: Inbox, address: str, count: int = 1) -> str:
    async def arrived() -> bool:
        return len(inbox.to(address)) >= count

    await until(arrived, 30, f"mail to {address}")
    body = inbox.to(address)[count - 1].get_payload(decode=True)
    assert isinstance(body, bytes)
    found = CODE.search(body.decode())
    assert found is not None, body
    return found.group(1)


async def test_reset_by_mail_sets_the_password_and_ends_every_session(
    mapi: Api, inbox: tuple[Inbox, int]
) -> None:
    box = inbox[0]
    user = await mapi.register("fan")
    second = await mapi.call(
        "POST", "/api/auth/login", json={"email": user["email"], "password": user["password"]}
    )
    assert second[0] == 200
    status, body = await mapi.call(
        "POST", "/api/auth/password/forgot", json={"email": user["email"].upper()}
    )
    assert (status, body) == (202, {"accepted": True})
    token = await _mail_code(box, user["email"])
    mail = box.to(user["email"])[0]
    assert mail["From"] == "MHC Live <no-reply@mhc.test>"
    text = mail.get_payload(decode=True)
    assert isinstance(text, bytes) and b"https://mhc.test/reset?token=" in text
    status, body = await mapi.call(
        "POST", "/api/auth/password/reset", json={"token": token, "password": "a new secret 1"}
    )
    assert status == 200, body
    # Every session ends: both access tokens and both refresh families.
    for session in (user, second[1]):
        status, _ = await mapi.call("GET", "/api/auth/me", token=session["access"])
        assert status == 401
        status, _ = await mapi.call(
            "POST", "/api/auth/refresh", json={"refresh": session["refresh"]}
        )
        assert status == 401
    status, _ = await mapi.call(
        "POST", "/api/auth/login", json={"email": user["email"], "password": user["password"]}
    )
    assert status == 401
    status, fresh = await mapi.call(
        "POST", "/api/auth/login", json={"email": user["email"], "password": "a new secret 1"}
    )
    assert status == 200
    status, _ = await mapi.call("GET", "/api/auth/me", token=fresh["access"])
    assert status == 200
    # The token works once.
    status, body = await mapi.call(
        "POST", "/api/auth/password/reset", json={"token": token, "password": "another one 2"}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_token")


async def test_unknown_address_is_answered_alike_and_mailed_nothing(
    mapi: Api, inbox: tuple[Inbox, int]
) -> None:
    box = inbox[0]
    ghost = f"nobody-{secrets.token_hex(6)}@example.test"
    status, body = await mapi.call("POST", "/api/auth/password/forgot", json={"email": ghost})
    assert (status, body) == (202, {"accepted": True})
    # A known address asked afterwards is mailed; by then the first job has long run.
    user = await mapi.register("fan")
    await mapi.call("POST", "/api/auth/password/forgot", json={"email": user["email"]})
    await _mail_code(box, user["email"])
    assert box.to(ghost) == []


async def test_an_expired_or_superseded_token_is_refused(
    mapi: Api, inbox: tuple[Inbox, int]
) -> None:
    box, clock = inbox[0], mapi.app[CLOCK]
    user = await mapi.register("fan")
    await mapi.call("POST", "/api/auth/password/forgot", json={"email": user["email"]})
    old = await _mail_code(box, user["email"])
    clock.advance(31 * 60)
    try:
        status, body = await mapi.call(
            "POST", "/api/auth/password/reset", json={"token": old, "password": "too late 123"}
        )
        assert (status, body["error"]["code"]) == (400, "invalid_token")
        # Two fresh links; spending one voids the other.
        await mapi.call("POST", "/api/auth/password/forgot", json={"email": user["email"]})
        first = await _mail_code(box, user["email"], 2)
        await mapi.call("POST", "/api/auth/password/forgot", json={"email": user["email"]})
        second = await _mail_code(box, user["email"], 3)
        status, _ = await mapi.call(
            "POST", "/api/auth/password/reset", json={"token": second, "password": "in time 1234"}
        )
        assert status == 200
        status, body = await mapi.call(
            "POST", "/api/auth/password/reset", json={"token": first, "password": "in time 5678"}
        )
        assert (status, body["error"]["code"]) == (400, "invalid_token")
    finally:
        clock.advance(-31 * 60)


@pytest.mark.parametrize(
    "body,code",
    [
        ({}, 400),
        ({"token": "x"}, 400),
        ({"token": "x", "password": "short"}, 400),
        ({"token": "", "password": "long enough 1"}, 400),
        ({"token": "x" * 201, "password": "long enough 1"}, 400),
        ({"token": 5, "password": "long enough 1"}, 400),
        ({"token": "x", "password": "long enough 1", "extra": 1}, 400),
        ({"token": secrets.token_urlsafe(32), "password": "long enough 1"}, 400),
    ],
)
async def test_bad_reset_requests_are_refused(mapi: Api, body: dict[str, Any], code: int) -> None:
    status, reply = await mapi.call("POST", "/api/auth/password/reset", json=body)
    assert status == code, reply
    assert "error" in reply


@pytest.mark.parametrize("body", [{}, {"email": 5}, {"email": "x" * 300}, {"email": "a", "b": 1}])
async def test_bad_forgot_requests_are_refused(mapi: Api, body: dict[str, Any]) -> None:
    status, reply = await mapi.call("POST", "/api/auth/password/forgot", json=body)
    assert status == 400, reply


async def test_guessing_tokens_is_rate_limited(mapi: Api) -> None:
    statuses = []
    for _ in range(22):
        status, _ = await mapi.call(
            "POST",
            "/api/auth/password/reset",
            json={"token": secrets.token_urlsafe(32), "password": "long enough 1"},
        )
        statuses.append(status)
    assert statuses[:20] == [400] * 20 and statuses[20:] == [429, 429], statuses


async def test_forgot_is_rate_limited_per_address_of_the_caller(mapi: Api) -> None:
    statuses = []
    for _ in range(12):
        status, _ = await mapi.call(
            "POST",
            "/api/auth/password/forgot",
            json={"email": f"x-{secrets.token_hex(4)}@example.test"},
        )
        statuses.append(status)
    assert statuses[:10] == [202] * 10 and statuses[10:] == [429, 429], statuses
