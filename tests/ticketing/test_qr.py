"""Ticket codes: signed, rotating, compact, no personal data; QR images decode back to them."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
import stripe
import zxingcpp
from PIL import Image

from server.clock import Clock
from tests.conftest import Api
from tests.ticketing.conftest import buy, make_fans, make_user, paid_event
from ticketing import qr
from ticketing.keys import TICKETING_CONFIG

KEY = b"k" * 32


def test_codes_verify_and_refuse_tampering() -> None:
    ticket, event = uuid.uuid4(), uuid.uuid4()
    code = qr.sign(KEY, ticket, event, 1_000, 1_300)
    assert len(code) == qr.CODE_LEN == 92 and code.isalnum() and code.upper() == code
    claims = qr.verify_signature(KEY, code)
    assert (claims.ticket_id, claims.event_id, claims.not_before, claims.not_after) == (
        ticket,
        event,
        1_000,
        1_300,
    )
    qr.check_window(claims, 1_299)
    with pytest.raises(qr.CodeRejected) as late:
        qr.check_window(claims, 1_300)
    assert late.value.reason == "invalid_time"
    with pytest.raises(qr.CodeRejected):
        qr.check_window(claims, 1_000 - qr.CLOCK_SKEW - 1)
    flipped = code[:40] + ("A" if code[40] != "A" else "B") + code[41:]
    for bad in (flipped, code[:-1], code[:60], code + "A", "", "x" * 92, code.lower()[:-1] + "!"):
        with pytest.raises(qr.CodeRejected) as exc:
            qr.verify_signature(KEY, bad)
        assert exc.value.reason == "invalid"
    with pytest.raises(qr.CodeRejected):
        qr.verify_signature(b"another key" * 3, code)
    with pytest.raises(ValueError):
        qr.sign(KEY, ticket, event, 0, 601)


def test_a_code_holds_only_ids_and_its_window() -> None:
    ticket, event = uuid.uuid4(), uuid.uuid4()
    raw = base64.b32decode(qr.sign(KEY, ticket, event, 7, 8) + "====")
    assert raw[0] == qr.VERSION and raw[1:17] == ticket.bytes and raw[17:33] == event.bytes
    assert raw[33:41] == (7).to_bytes(4, "big") + (8).to_bytes(4, "big") and len(raw) == 57


async def test_qr_png_svg_and_json_for_the_owner(
    tapi: Api, tclock: Clock, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist)
    fan, stranger = await make_fans(tapi, 2)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    url = f"{tapi.base_url}/api/tickets/{ticket['id']}/qr"
    headers = {"Authorization": f"Bearer {fan['access']}"}
    async with tapi.session.get(url, headers=headers) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert resp.headers["Cache-Control"] == "no-store"
        expires = int(resp.headers["X-Code-Expires-At"])
        png = await resp.read()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(decoded) == 1 and decoded[0].format == zxingcpp.BarcodeFormat.QRCode
    code = decoded[0].text
    claims = qr.verify_signature(tapi.app[TICKETING_CONFIG].qr_key, code)
    assert str(claims.ticket_id) == ticket["id"] and str(claims.event_id) == event["id"]
    assert claims.not_after == expires and 0 < claims.not_after - claims.not_before <= 600

    async with tapi.session.get(url + "?format=svg", headers=headers) as resp:
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert (await resp.text()).lstrip().startswith("<svg")
    status, body = await tapi.call(
        "GET", f"/api/tickets/{ticket['id']}/qr?format=json", token=fan["access"]
    )
    assert status == 200 and body["expires_at"] - body["not_before"] <= 600
    tclock.advance(2)
    status, later = await tapi.call(
        "GET", f"/api/tickets/{ticket['id']}/qr?format=json", token=fan["access"]
    )
    assert later["code"] != body["code"], "codes rotate"
    status, _ = await tapi.call("GET", f"/api/tickets/{ticket['id']}/qr", token=stranger["access"])
    assert status == 404
    status, _ = await tapi.call(
        "GET", f"/api/tickets/{ticket['id']}/qr?format=gif", token=fan["access"]
    )
    assert status == 400


async def test_no_code_for_an_unpaid_ticket(tapi: Api) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist)
    fan = await make_user(tapi)
    status, body = await tapi.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event["id"]}
    )
    status, err = await tapi.call(
        "GET", f"/api/tickets/{body['ticket']['id']}/qr", token=fan["access"]
    )
    assert status == 409 and err["error"]["code"] == "unpaid"
