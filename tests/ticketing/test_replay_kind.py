"""A replay grant opens replays only: its token is signed for /replay/ and never renews live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import stripe

from tests.conftest import Api
from tests.streaming import until
from tests.ticketing.conftest import buy, make_user, paid_event
from tests.ticketing.test_replays import gate, replay_of, show
from ticketing.keys import TICKETING_CONFIG


async def test_a_replay_token_plays_no_live_path_and_does_not_renew_as_live(
    tapi: Api, flv: Path, stripe_client: stripe.StripeClient
) -> None:
    artist, fan = await make_user(tapi, "artist"), await make_user(tapi)
    event = await paid_event(tapi, artist, replay_access=True, capacity=5)
    await buy(tapi, stripe_client, fan, event["id"])
    await show(tapi, event, [flv], tapi.app[TICKETING_CONFIG].record_dir)

    async def ready() -> Any:
        status, body = await replay_of(tapi, fan, event["id"])
        return body if status == 200 else None

    grant = (await until(ready, 20, "the replay to be packaged"))["playback"]
    assert await gate(tapi, grant["url"]) == 200
    # The same token on the live path (an OBS reconnect brings the live stream back).
    assert await gate(tapi, grant["url"].replace("/replay/", "/play/", 1)) == 403

    for who in (fan, artist):  # the artist may watch live; a replay session still may not
        status, body = await replay_of(tapi, who, event["id"])
        assert status == 200, body
        session = body["playback"]["session_id"]
        status, err = await tapi.call(
            "POST",
            f"/api/live/{event['id']}/playback",
            token=who["access"],
            json={"session_id": session},
        )
        assert status == 403 and err["error"]["code"] in ("replay_session", "no_access"), err
    status, err = await tapi.call(
        "POST",
        f"/api/live/{event['id']}/playback",
        token=artist["access"],
        json={"session_id": body["playback"]["session_id"]},
    )
    assert err["error"]["code"] == "replay_session"
