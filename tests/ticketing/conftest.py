"""Ticketing fixtures: localstripe, and app processes wired to it.

`tapp` is a second app process (same config as the session app: database, Redis, secrets)
on its own port, with ticketing pointed at localstripe. Sharing the config is what a
multi-process deployment does, and it lets the session's nginx gate tokens `tapp` issues.
`dev_app` is the same with no Stripe key, so the development provider is used. Each serves
its own job queue (MHC_JOBS_QUEUE), so a job runs in the app whose payment provider made it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp import web

from server.accounts import store as accounts
from server.accounts.tokens import issue_access
from server.app import create_app
from server.clock import Clock
from server.keys import CLOCK, CONFIG, DB
from server.localstack import free_port, wait_for_port
from tests.conftest import Api
from tests.services import Services
from tests.streaming import obs_args

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_" + secrets.token_hex(16)
STRIPE_KEY = "sk_test_" + secrets.token_hex(12)


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    """localstripe on a loopback port, once per session."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ticketing.localstripe_server", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc, "localstripe")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _start(
    app_server: tuple[web.Application, str], env: dict[str, str]
) -> tuple[web.AppRunner, web.Application, str]:
    port = free_port()
    base = app_server[0][CONFIG]
    cfg = dataclasses.replace(base, port=port, env={**base.env, **env})
    app = create_app(cfg, Clock())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, app, f"http://127.0.0.1:{port}"


TEST_LIMITS = {
    "MHC_VALIDATE_TICKET_BURST": "100",
    "MHC_VALIDATE_IP_BURST": "400",
    "MHC_PURCHASE_BURST": "5",
    "MHC_TICKET_SWEEP_SECONDS": "3600",
    # Every test buys from loopback; the hold limits have their own tests.
    "MHC_HOLDS_PER_ADDRESS": "100000",
}


@pytest.fixture(scope="session")
async def tapp(
    app_server: tuple[web.Application, str], localstripe: str, services: Services
) -> AsyncIterator[tuple[web.Application, str]]:
    """An app process whose ticketing uses Stripe (localstripe)."""
    record_dir = services.work_dir / "tapp-recordings"
    record_dir.mkdir(exist_ok=True)
    runner, app, url = await _start(
        app_server,
        {
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": localstripe,
            "MHC_RECORD_DIR": str(record_dir),
            "MHC_JOBS_QUEUE": "tapp",
            **TEST_LIMITS,
        },
    )
    yield app, url
    await runner.cleanup()


@pytest.fixture(scope="session")
async def dev_app(
    app_server: tuple[web.Application, str],
) -> AsyncIterator[tuple[web.Application, str]]:
    """An app process with no Stripe key: the development provider."""
    runner, app, url = await _start(app_server, {"MHC_JOBS_QUEUE": "dev_app", **TEST_LIMITS})
    yield app, url
    await runner.cleanup()


@pytest.fixture(scope="session")
def flv(services: Services) -> Iterator[Path]:
    """A 3 s FLV like nginx-rtmp records (H.264 + AAC), made once."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is installed by ./dev"
    path = services.work_dir / "sample.flv"
    subprocess.run(
        obs_args(ffmpeg, str(path), 3, realtime=False),
        check=True,
        timeout=60,
    )
    yield path


@pytest.fixture
async def tapi(tapp: tuple[web.Application, str]) -> AsyncIterator[Api]:
    """A client of the Stripe-backed app."""
    async with aiohttp.ClientSession() as session:
        yield Api(session, tapp[1], tapp[0])


@pytest.fixture
async def dapi(dev_app: tuple[web.Application, str]) -> AsyncIterator[Api]:
    """A client of the dev-payments app."""
    async with aiohttp.ClientSession() as session:
        yield Api(session, dev_app[1], dev_app[0])


@pytest.fixture
def tclock(tapp: tuple[web.Application, str]) -> Iterator[Clock]:
    """The Stripe-backed app's clock; advances are undone after the test."""
    clk = tapp[0][CLOCK]
    before = clk._offset
    yield clk
    clk._frozen = None
    clk._offset = before


@pytest.fixture
async def stripe_client(localstripe: str) -> AsyncIterator[stripe.StripeClient]:
    """What a buyer's Stripe SDK does, against localstripe."""
    http = stripe.AIOHTTPClient()
    yield stripe.StripeClient(STRIPE_KEY, base_addresses={"api": localstripe}, http_client=http)
    await http.close_async()  # type: ignore[no-untyped-call]


def access_token(api: Api, user_id: uuid.UUID, role: str) -> str:
    """An access token valid for an hour of the app's (possibly advanced) clock."""
    real = time.time()
    ttl = int(api.app[CLOCK].time() - real) + 3600
    return issue_access(api.app[CONFIG].jwt_secret, user_id, role, real, ttl)[0]


def refresh_token(api: Api, user: dict[str, Any]) -> dict[str, Any]:
    """The same user with a token minted for the app's current clock."""
    return {**user, "access": access_token(api, user["id"], user["role"])}


async def make_fans(api: Api, n: int, role: str = "fan") -> list[dict[str, Any]]:
    """n accounts with access tokens, created directly (no password hashing)."""
    users = []
    async with api.app[DB].acquire() as conn:
        for _ in range(n):
            uid = uuid.uuid4()
            await accounts.insert_user(
                conn, uid, f"{role}-{uid.hex[:12]}@example.test", "x", role, role
            )
            users.append({"id": uid, "role": role, "access": access_token(api, uid, role)})
    return users


async def make_user(api: Api, role: str = "fan") -> dict[str, Any]:
    """One account with an access token (artists, moderators, admins too)."""
    return (await make_fans(api, 1, role))[0]


async def paid_event(api: Api, artist: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A scheduled paid event (2.99 EUR unless told)."""
    return await api.create_event(artist["access"], **{"price": 299, **fields})


def sign(payload: str, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> str:
    """A Stripe-Signature header made by the stripe library's own helper."""
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp))


def stripe_event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> str:
    """A webhook body shaped like Stripe's."""
    return json.dumps(
        {
            "id": event_id or "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": kind,
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": obj},
        }
    )


async def deliver(
    api: Api,
    kind: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    timestamp: int | None = None,
    secret: str = WEBHOOK_SECRET,
    body: str | None = None,
) -> tuple[int, Any]:
    """POST a signed webhook to the app."""
    payload = body if body is not None else stripe_event(kind, obj, event_id)
    return await api.call(
        "POST",
        "/api/payments/stripe/webhook",
        data=payload.encode(),
        headers={
            "Stripe-Signature": sign(payload, timestamp, secret),
            "Content-Type": "application/json",
        },
    )


async def pay(
    stripe_client: stripe.StripeClient, payment_id: str, method: str = "pm_card_visa"
) -> str:
    """Confirm a PaymentIntent as the buyer's SDK would; returns its status."""
    await stripe_client.v1.payment_intents.update_async(
        payment_id, params={"payment_method": method}
    )
    try:
        pi = await stripe_client.v1.payment_intents.confirm_async(payment_id)
    except stripe.CardError:
        pi = await stripe_client.v1.payment_intents.retrieve_async(payment_id)
    return str(pi.status)


def charge_id(pi: Any) -> str:
    """The id of a PaymentIntent's latest charge (expanded or not)."""
    latest = pi.to_dict()["latest_charge"]
    return str(latest if isinstance(latest, str) else latest["id"])


async def buy(
    api: Api, stripe_client: stripe.StripeClient, fan: dict[str, Any], event_id: str
) -> dict[str, Any]:
    """Purchase, pay and deliver payment_intent.succeeded: the issued ticket."""
    status, body = await api.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event_id}
    )
    assert status == 201, body
    assert await pay(stripe_client, body["payment"]["id"]) == "succeeded"
    status, hook = await deliver(
        api, "payment_intent.succeeded", {"id": body["payment"]["id"], "object": "payment_intent"}
    )
    assert status == 200 and hook["outcome"] == "issued", hook
    status, ticket = await api.call(
        "GET", f"/api/tickets/{body['ticket']['id']}", token=fan["access"]
    )
    assert status == 200 and ticket["status"] == "valid", ticket
    return ticket  # type: ignore[no-any-return]


async def code_for(api: Api, fan: dict[str, Any], ticket_id: str) -> str:
    """A fresh code for a ticket, as JSON."""
    status, body = await api.call(
        "GET", f"/api/tickets/{ticket_id}/qr?format=json", token=fan["access"]
    )
    assert status == 200, body
    return str(body["code"])
