"""Without Stripe keys, the development provider completes purchases locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError
from server.keys import CONFIG
from tests.conftest import Api
from tests.ticketing.conftest import make_user, paid_event
from ticketing import config


async def test_dev_provider_sells_end_to_end(dapi: Api) -> None:
    artist, fan, other = (
        await make_user(dapi, "artist"),
        await make_user(dapi),
        await make_user(dapi),
    )
    event = await paid_event(dapi, artist, price=2999, capacity=3)
    status, body = await dapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    assert status == 201, body
    payment = body["payment"]
    assert payment["provider"] == "dev" and "no money moves" in payment["label"]
    status, _ = await dapi.call("POST", payment["confirm_url"], token=other["access"])
    assert status == 404, "only the buyer confirms"
    status, done = await dapi.call("POST", payment["confirm_url"], token=fan["access"])
    assert status == 200 and done["outcome"] == "issued" and done["ticket"]["status"] == "valid"
    status, again = await dapi.call("POST", payment["confirm_url"], token=fan["access"])
    assert again["outcome"] == "duplicate"
    status, code = await dapi.call(
        "GET", f"/api/tickets/{done['ticket']['id']}/qr?format=json", token=fan["access"]
    )
    status, ok = await dapi.call(
        "POST", "/api/tickets/validate", token=fan["access"], json={"code": code["code"]}
    )
    assert status == 200 and ok["playback"]["token"]
    status, refunded = await dapi.call(
        "POST", f"/api/tickets/{done['ticket']['id']}/refund", token=artist["access"]
    )
    assert status == 200 and refunded["status"] == "refunded"

    # A declined "card" releases the seat.
    status, body = await dapi.call(
        "POST", "/api/tickets/purchase", token=other["access"], json={"streamId": event["id"]}
    )
    status, failed = await dapi.call(
        "POST", body["payment"]["confirm_url"], token=other["access"], json={"outcome": "fail"}
    )
    assert failed["outcome"] == "released" and failed["ticket"]["status"] == "released"
    # The Stripe webhook is not served without Stripe.
    status, _ = await dapi.call("POST", "/api/payments/stripe/webhook", data=b"{}")
    assert status == 404


async def test_dev_confirm_is_not_served_with_stripe(tapi: Api) -> None:
    fan = await make_user(tapi)
    status, _ = await tapi.call("POST", "/api/payments/dev/devpi_x/confirm", token=fan["access"])
    assert status == 404


def test_incomplete_stripe_config_refuses_to_start(dapi: Api, tmp_path: Path) -> None:
    core = dapi.app[CONFIG]
    empty = tmp_path / "empty-key"
    empty.write_text("\n")
    broken = [
        (
            {"STRIPE_WEBHOOK_SECRET": "whsec_abcdef", "STRIPE_PUBLISHABLE_KEY": "pk_live_abcd"},
            "STRIPE_WEBHOOK_SECRET",
        ),
        (
            {"STRIPE_SECRET_KEY_FILE": str(empty), "STRIPE_WEBHOOK_SECRET": "whsec_abcdef"},
            "STRIPE_SECRET_KEY_FILE",
        ),
        (
            {"STRIPE_SECRET_KEY": "   ", "STRIPE_WEBHOOK_SECRET": "whsec_abcdef"},
            "STRIPE_SECRET_KEY",
        ),
        ({"STRIPE_API_BASE": "http://127.0.0.1:1"}, "STRIPE_API_BASE"),
    ]
    for env, name in broken:
        with pytest.raises(ConfigError, match=name):
            config.load(core, env)
        # Saying so explicitly still selects the development provider.
        assert config.load(core, {**env, "MHC_PAYMENTS": "dev"}).provider == "dev"
    assert config.load(core, {}).provider == "dev"
    complete = {"STRIPE_SECRET_KEY": "sk_test_abcdef", "STRIPE_WEBHOOK_SECRET": "whsec_abcdef"}
    assert config.load(core, complete).provider == "stripe"


def test_qr_secret_can_come_from_a_file(dapi: Api, tmp_path: Path) -> None:
    core = dapi.app[CONFIG]
    secret = "q" * 40
    path = tmp_path / "qr-secret"
    path.write_text(secret + "\n")
    from_file = config.load(core, {"MHC_QR_SECRET_FILE": str(path)}).qr_key
    assert from_file == config.load(core, {"MHC_QR_SECRET": secret}).qr_key
    assert from_file != config.load(core, {}).qr_key
    path.write_text("short")
    with pytest.raises(ConfigError, match="MHC_QR_SECRET"):
        config.load(core, {"MHC_QR_SECRET_FILE": str(path)})
