"""Purchase and validation name the event `event_id`, like every other route; the old
`streamId` is still taken, and the document shows only `event_id`."""

from __future__ import annotations

from tests.conftest import Api
from tests.ticketing.conftest import make_user, paid_event


async def test_purchase_and_validation_take_event_id_and_streamid(dapi: Api) -> None:
    artist = await make_user(dapi, "artist")
    event = await paid_event(dapi, artist, capacity=5)
    old, new = await make_user(dapi), await make_user(dapi)
    status, held = await dapi.call(
        "POST", "/api/tickets/purchase", token=new["access"], json={"event_id": event["id"]}
    )
    assert status == 201 and held["ticket"]["event_id"] == event["id"], held
    status, legacy = await dapi.call(
        "POST", "/api/tickets/purchase", token=old["access"], json={"streamId": event["id"]}
    )
    assert status == 201 and legacy["ticket"]["event_id"] == event["id"], legacy
    status, body = await dapi.call(
        "POST",
        "/api/tickets/purchase",
        token=old["access"],
        json={"event_id": event["id"], "streamId": event["id"]},
    )
    assert status == 400 and body["error"]["code"] == "invalid_field", body

    status, done = await dapi.call("POST", held["payment"]["confirm_url"], token=new["access"])
    assert status == 200 and done["ticket"]["status"] == "valid", done
    _, code = await dapi.call(
        "GET", f"/api/tickets/{done['ticket']['id']}/qr?format=json", token=new["access"]
    )
    status, ok = await dapi.call(
        "POST",
        "/api/tickets/validate",
        token=new["access"],
        json={"code": code["code"], "event_id": event["id"]},
    )
    assert status == 200 and ok["event_id"] == event["id"], ok


async def test_document_names_the_event_event_id(dapi: Api) -> None:
    status, doc = await dapi.call("GET", "/api/openapi.json")
    assert status == 200
    schemas = doc["components"]["schemas"]
    for name in ("PurchaseIn", "ValidateIn"):
        assert "event_id" in schemas[name]["properties"], name
        assert "streamId" not in schemas[name]["properties"], name
    assert schemas["PurchaseIn"]["required"] == ["event_id"]
