"""Validation: single admission, reasons in order, rate limits, sessions per ticket and per IP."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import stripe

from server.clock import Clock
from server.keys import CLOCK, DB, REDIS
from server.playback import store as playback_store
from server.revocations import DENIED_PREFIX, LOADED_KEY
from tests.conftest import Api, login
from tests.ticketing.conftest import buy, code_for, make_fans, make_user, paid_event
from tests.ticketing.test_replays import hook as rtmp_hook
from ticketing import qr, store
from ticketing.keys import RUNTIME, TICKETING_CONFIG


async def gate(api: Api, url: str) -> int:
    async with api.session.get(
        api.base_url + "/internal/play-auth", headers={"X-Original-URI": urlsplit(url).path}
    ) as resp:
        return resp.status


async def check(
    api: Api, fan: dict[str, Any], code: str, ip: str = "192.0.2.1", stream: str | None = None
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"code": code}
    if stream is not None:
        body["streamId"] = stream
    return await api.call(
        "POST",
        "/api/tickets/validate",
        token=str(fan["access"]),
        json=body,
        headers={"X-Real-IP": ip},
    )


async def test_validation_admits_once_and_opens_stream_and_chat(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist)
    fan = await make_user(tapi)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    status, _ = await tapi.call("POST", f"/api/live/{event['id']}/playback", token=fan["access"])
    assert status == 403, "a bought but unvalidated ticket does not open the stream"

    code = await code_for(tapi, fan, ticket["id"])
    status, ok = await check(tapi, fan, code, stream=event["id"])
    assert status == 200, ok
    assert ok["status"] == "ok" and ok["ticket_id"] == ticket["id"] and ok["chat"]["allowed"]
    grant = ok["playback"]
    assert urlsplit(grant["url"]).path == f"/play/{grant['token']}/{event['id']}/index.m3u8"
    assert await gate(tapi, grant["url"]) == 200
    # Admitted: the core's grant (renewal, chat) now says yes through the watch rule.
    status, renewed = await tapi.call(
        "POST",
        f"/api/live/{event['id']}/playback",
        token=fan["access"],
        json={"session_id": grant["session_id"]},
    )
    assert status == 200 and renewed["session_id"] == grant["session_id"]

    for again in (code, await code_for(tapi, fan, ticket["id"])):
        status, err = await check(tapi, fan, again)
        assert status == 409 and err["error"]["code"] == "already_redeemed"
        assert err["error"]["reason"] == "already_redeemed"
    status, mine = await tapi.call("GET", f"/api/tickets/{ticket['id']}", token=fan["access"])
    assert mine["admitted_at"] is not None


async def test_50_concurrent_validations_of_one_code_admit_exactly_once(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist)
    fan = await make_user(tapi)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    code = await code_for(tapi, fan, ticket["id"])
    results = await asyncio.gather(*(check(tapi, fan, code, ip=f"198.18.0.{i}") for i in range(50)))
    statuses = sorted(s for s, _ in results)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(409) == 49
    assert {b["error"]["code"] for s, b in results if s == 409} == {"already_redeemed"}
    # The admission and its session are one statement: the losers opened no session.
    [granted] = [b["playback"]["session_id"] for s, b in results if s == 200]
    async with tapi.app[DB].acquire() as conn:
        sessions = await playback_store.active_for(conn, fan["id"], uuid.UUID(event["id"]))
    assert [str(s) for s in sessions] == [granted]


async def _fans_with_tickets(
    tapi: Api, stripe_client: stripe.StripeClient, n: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A paid event and n fans, each holding a paid ticket for it."""
    event = await paid_event(tapi, await make_user(tapi, "artist"))
    fans = await make_fans(tapi, n)
    return event, fans, [await buy(tapi, stripe_client, fan, event["id"]) for fan in fans]


async def test_concurrent_validations_of_many_tickets_each_get_their_own_answer(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    event, fans, tickets = await _fans_with_tickets(tapi, stripe_client, 12)
    codes = [await code_for(tapi, fan, t["id"]) for fan, t in zip(fans, tickets, strict=True)]
    used_fan, stranger, holder = fans[9], fans[10], fans[11]
    status, _ = await check(tapi, used_fan, codes[9])
    assert status == 200
    status, held = await tapi.call(
        "POST",
        "/api/tickets/purchase",
        token=(await make_user(tapi))["access"],
        json={"streamId": event["id"]},
    )
    assert status == 201, held
    key = tapi.app[TICKETING_CONFIG].qr_key
    now = int(tapi.app[CLOCK].time())
    unpaid_code = qr.sign(
        key, uuid.UUID(held["ticket"]["id"]), uuid.UUID(event["id"]), now - 5, now + 300
    )
    # Nine good codes, a used one, a stranger's use of a fan's code and an unpaid ticket's,
    # all at once, so they are tried together.
    attempts = [(fans[i], codes[i]) for i in range(9)]
    attempts += [(used_fan, codes[9]), (stranger, codes[0]), (holder, unpaid_code)]
    results = await asyncio.gather(
        *(check(tapi, fan, code, ip=f"198.18.1.{i}") for i, (fan, code) in enumerate(attempts))
    )
    good, (used, not_owner, unpaid) = results[:9], results[9:]
    # The stranger's try and the owner's race for ticket 0: only the owner can win it.
    assert [s for s, _ in good] == [200] * 9, good
    assert used[0] == 409 and used[1]["error"]["code"] == "already_redeemed"
    assert not_owner[0] in (403, 409), not_owner
    assert not_owner[1]["error"]["code"] in ("not_owner", "already_redeemed")
    assert unpaid[0] == 403 and unpaid[1]["error"]["code"] == "unpaid"
    sessions = {b["playback"]["session_id"] for _, b in good}
    assert len(sessions) == 9
    for (fan, _), (_, body) in zip(attempts[:9], good, strict=True):
        assert body["ticket_id"] in {t["id"] for t in tickets}
        assert await gate(tapi, body["playback"]["url"]) == 200
        async with tapi.app[DB].acquire() as conn:
            active = await playback_store.active_for(conn, fan["id"], uuid.UUID(event["id"]))
        assert [str(s) for s in active] == [body["playback"]["session_id"]]


async def test_an_admission_that_fails_fails_alone(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    event, fans, tickets = await _fans_with_tickets(tapi, stripe_client, 5)
    doomed = fans[2]["id"]
    name = f"refuse_{uuid.uuid4().hex}"
    async with tapi.app[DB].acquire() as conn:
        # A session insert that fails for one viewer only: its statement fails whole.
        await conn.execute(
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
                CREATE TRIGGER {name} BEFORE INSERT ON playback_sessions FOR EACH ROW
                WHEN (NEW.user_id = '{doomed}') EXECUTE FUNCTION {name}();"""
        )
    try:
        admissions = tapi.app[RUNTIME].admissions
        now = tapi.app[CLOCK].now()
        admits = [
            store.Admit(uuid.UUID(t["id"]), fan["id"], uuid.UUID(event["id"]), now, uuid.uuid4())
            for fan, t in zip(fans, tickets, strict=True)
        ]
        results = await asyncio.gather(
            *(admissions.admit(a) for a in admits), return_exceptions=True
        )
    finally:
        async with tapi.app[DB].acquire() as conn:
            await conn.execute(f"DROP TRIGGER {name} ON playback_sessions; DROP FUNCTION {name}()")
    assert isinstance(results[2], asyncpg.RaiseError), results
    assert [r for i, r in enumerate(results) if i != 2] == [True] * 4
    # Nothing of the failed one was written: its owner can still be admitted.
    code = await code_for(tapi, fans[2], tickets[2]["id"])
    status, body = await check(tapi, fans[2], code)
    assert status == 200, body


async def test_bad_codes_are_refused_with_reasons_and_burn_nothing(
    tapi: Api, tclock: Clock, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=10)
    other_event = await paid_event(tapi, artist)
    fan, stranger = await make_fans(tapi, 2)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    code = await code_for(tapi, fan, ticket["id"])
    key = tapi.app[TICKETING_CONFIG].qr_key
    now = int(tclock.time())
    # An unpaid (held) ticket and a refunded one.
    status, held = await tapi.call(
        "POST", "/api/tickets/purchase", token=stranger["access"], json={"streamId": event["id"]}
    )
    unpaid = qr.sign(key, uuid.UUID(held["ticket"]["id"]), uuid.UUID(event["id"]), now, now + 300)
    refunded_fan = await make_user(tapi)
    refunded = await buy(tapi, stripe_client, refunded_fan, event["id"])
    refunded_code = await code_for(tapi, refunded_fan, refunded["id"])
    status, _ = await tapi.call(
        "POST", f"/api/tickets/{refunded['id']}/refund", token=artist["access"]
    )
    assert status == 200
    forged = code[:30] + ("A" if code[30] != "A" else "B") + code[31:]
    wrong_key = qr.sign(b"x" * 32, uuid.UUID(ticket["id"]), uuid.UUID(event["id"]), now, now + 300)
    stale = qr.sign(key, uuid.UUID(ticket["id"]), uuid.UUID(event["id"]), now - 700, now - 100)
    cases = [
        (fan, forged, None, 400, "invalid"),
        (fan, wrong_key, None, 400, "invalid"),
        (fan, code[:50], None, 400, "invalid"),
        (fan, "", None, 400, "invalid"),
        (fan, stale, None, 403, "invalid_time"),
        (stranger, unpaid, None, 403, "unpaid"),
        (refunded_fan, refunded_code, None, 403, "cancelled"),
        (fan, code, other_event["id"], 403, "wrong_event"),
        (stranger, code, None, 403, "not_owner"),
    ]
    for who, bad, stream, want_status, reason in cases:
        status, err = await check(tapi, who, bad, stream=stream)
        assert (status, err["error"]["code"]) == (want_status, reason), (reason, err)
        assert err["error"]["reason"] == reason
    status, _ = await tapi.call("POST", "/api/tickets/validate", json={"code": code})
    assert status == 401
    # A screenshot goes stale: the same code after its window.
    tclock.advance(tapi.app[TICKETING_CONFIG].qr_ttl + 1)
    status, err = await check(tapi, fan, code)
    assert (status, err["error"]["code"]) == (403, "invalid_time")
    # Nothing was burned: a fresh code of the owner still admits.
    status, ok = await check(tapi, fan, await code_for(tapi, fan, ticket["id"]))
    assert status == 200, ok


async def test_rate_limits_per_ticket_and_per_ip(
    tapi: Api, stripe_client: stripe.StripeClient, tclock: Clock
) -> None:
    cfg = tapi.app[TICKETING_CONFIG]
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist)
    fan = await make_user(tapi)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    # No bucket refills between the requests, however slowly a busy machine serves them.
    tclock.freeze()
    now = int(tclock.time())
    forged = qr.sign(b"z" * 32, uuid.UUID(ticket["id"]), uuid.UUID(event["id"]), now, now + 300)
    # Forged codes naming the ticket spend only their sender's address budget, never the
    # ticket's: whoever saw a ticket's code cannot lock its owner out.
    statuses = [
        (await check(tapi, fan, forged, ip=f"198.19.{i // 250}.{i % 250}"))[0]
        for i in range(cfg.validate_ticket_burst + 5)
    ]
    assert set(statuses) == {400}
    # Genuine codes spend the ticket's bucket: admitted once, then refused, then limited.
    genuine = await code_for(tapi, fan, ticket["id"])
    statuses = [
        (await check(tapi, fan, genuine, ip=f"198.18.{i // 250}.{i % 250}"))[0]
        for i in range(cfg.validate_ticket_burst)
    ]
    assert statuses[0] == 200 and set(statuses[1:]) == {409}, statuses
    status, err = await check(tapi, fan, genuine, ip="198.19.9.8")
    assert status == 429 and err["error"]["code"] == "rate_limited"

    other = await paid_event(tapi, artist)
    junk = "A" * qr.CODE_LEN
    statuses = [
        (await check(tapi, fan, junk, ip="203.0.113.77", stream=other["id"]))[0]
        for _ in range(cfg.validate_ip_burst)
    ]
    assert set(statuses) == {400}
    status, err = await check(tapi, fan, junk, ip="203.0.113.77", stream=other["id"])
    assert status == 429 and err["error"]["code"] == "rate_limited"
    status, err = await check(tapi, fan, junk, ip="203.0.113.78", stream=other["id"])
    assert status == 400, "another address has its own budget"
    # The address budget for unverified codes does not depend on the event they name.
    status, err = await check(tapi, fan, junk, ip="203.0.113.77", stream=event["id"])
    assert status == 429 and err["error"]["code"] == "rate_limited"


async def test_forged_codes_cannot_lock_the_owner_out(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=5)
    fan, attacker = await make_fans(tapi, 2)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    seen = await code_for(tapi, fan, ticket["id"])  # e.g. photographed at the door
    raw = base64.b32decode(seen + "=" * (-len(seen) % 8))
    burst = tapi.app[TICKETING_CONFIG].validate_ticket_burst
    for i in range(burst + 10):
        # The plaintext ticket id, random event ids and a junk signature.
        forged = raw[:17] + uuid.uuid4().bytes + secrets.token_bytes(8 + 16)
        code = base64.b32encode(forged).rstrip(b"=").decode()
        status, err = await check(tapi, attacker, code, ip=f"198.51.{i // 250}.{i % 250}")
        assert (status, err["error"]["code"]) == (400, "invalid")
    status, ok = await check(
        tapi, fan, await code_for(tapi, fan, ticket["id"]), stream=event["id"], ip="192.0.2.200"
    )
    assert status == 200, ok


async def test_reentry_moves_the_session_and_one_session_per_ip(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=10)
    fan, stranger = await make_fans(tapi, 2)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    status, _ = await tapi.call(
        "POST",
        f"/api/tickets/{ticket['id']}/reenter",
        token=fan["access"],
        headers={"X-Real-IP": "192.0.2.10"},
    )
    assert status == 409, "re-entry needs an admission first"
    status, phone = await check(tapi, fan, await code_for(tapi, fan, ticket["id"]), ip="192.0.2.10")
    assert status == 200
    status, tv = await tapi.call(
        "POST",
        f"/api/tickets/{ticket['id']}/reenter",
        token=fan["access"],
        headers={"X-Real-IP": "192.0.2.11"},
    )
    assert status == 200 and tv["reentry"] is True
    assert await gate(tapi, tv["playback"]["url"]) == 200
    assert await gate(tapi, phone["playback"]["url"]) == 403, "last login wins"
    status, _ = await tapi.call(
        "POST", f"/api/tickets/{ticket['id']}/reenter", token=stranger["access"]
    )
    assert status == 404

    # The same account coming back from that address replaces its own session there.
    status, again = await tapi.call(
        "POST",
        f"/api/tickets/{ticket['id']}/reenter",
        token=fan["access"],
        headers={"X-Real-IP": "192.0.2.11"},
    )
    assert status == 200
    assert await gate(tapi, again["playback"]["url"]) == 200
    assert await gate(tapi, tv["playback"]["url"]) == 403


async def test_two_fans_behind_one_proxy_address_keep_their_streams(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=10)
    fan, neighbour = await make_fans(tapi, 2)
    streams = []
    for who in (fan, neighbour):
        ticket = await buy(tapi, stripe_client, who, event["id"])
        # One household (or carrier NAT) address, named by the trusted proxy in front.
        status, body = await tapi.call(
            "POST",
            "/api/tickets/validate",
            token=who["access"],
            json={"code": await code_for(tapi, who, ticket["id"])},
            headers={"X-Forwarded-For": "203.0.113.40"},
        )
        assert status == 200, body
        streams.append(body["playback"]["url"])
    assert [await gate(tapi, url) for url in streams] == [200, 200], (
        "one fan's admission must not end another account's stream"
    )


async def test_a_stranger_with_the_ticket_id_cannot_lock_the_owner_out_of_reentry(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=5)
    fan, stranger = await make_fans(tapi, 2)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    status, _ = await check(tapi, fan, await code_for(tapi, fan, ticket["id"]), ip="192.0.2.60")
    assert status == 200
    burst = tapi.app[TICKETING_CONFIG].validate_ticket_burst
    for i in range(burst + 5):  # e.g. the id read off the QR code or the artist's sales list
        status, _ = await tapi.call(
            "POST",
            f"/api/tickets/{ticket['id']}/reenter",
            token=stranger["access"],
            headers={"X-Real-IP": f"198.51.{i // 250}.{i % 250}"},
        )
        assert status == 404
    status, body = await tapi.call(
        "POST",
        f"/api/tickets/{ticket['id']}/reenter",
        token=fan["access"],
        headers={"X-Real-IP": "192.0.2.61"},
    )
    assert status == 200, body


async def test_expired_genuine_codes_do_not_spend_the_ticket_budget(
    tapi: Api, stripe_client: stripe.StripeClient, tclock: Clock
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=5)
    fan, stranger = await make_fans(tapi, 2)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    old = await code_for(tapi, fan, ticket["id"])  # a photo of an earlier code
    tclock.advance(tapi.app[TICKETING_CONFIG].qr_ttl + 5)
    burst = tapi.app[TICKETING_CONFIG].validate_ticket_burst
    for i in range(burst + 5):
        status, err = await check(tapi, stranger, old, ip=f"198.51.{i // 250}.{i % 250}")
        assert (status, err["error"]["code"]) == (403, "invalid_time")
    status, ok = await check(tapi, fan, await code_for(tapi, fan, ticket["id"]), ip="192.0.2.62")
    assert status == 200, ok


async def test_codes_of_an_event_that_is_over_do_not_admit(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist, capacity=5)
    fan = await make_user(tapi)
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    code = await code_for(tapi, fan, ticket["id"])
    form = {"app": "live", "name": event["stream_key"], "clientid": "8", "call": "publish"}
    assert await rtmp_hook(tapi, "publish", form) == 302
    assert await rtmp_hook(tapi, "publish_done", {**form, "name": event["id"]}) == 204
    for stream in (None, event["id"]):
        status, err = await check(tapi, fan, code, stream=stream, ip="192.0.2.77")
        assert (status, err["error"]["code"]) == (409, "event_over"), err
    _, row = await tapi.call("GET", f"/api/tickets/{ticket['id']}", token=fan["access"])
    assert row["admitted_at"] is None, "nothing was burned"


async def test_a_logged_out_token_is_refused_first_and_spends_no_budget(
    tapi: Api, stripe_client: stripe.StripeClient
) -> None:
    # Validation checks the token's revocation together with its rate limits: a logged-out
    # token must still be refused before any other answer, even after Redis forgot its copy
    # of the revocations, and spend nothing.
    cfg = tapi.app[TICKETING_CONFIG]
    artist = await make_user(tapi, "artist")
    event = await paid_event(tapi, artist)
    fan = await tapi.register("fan")
    ticket = await buy(tapi, stripe_client, fan, event["id"])
    code = await code_for(tapi, fan, ticket["id"])
    status, _ = await tapi.call(
        "POST", "/api/auth/logout", token=fan["access"], json={"refresh": fan["refresh"]}
    )
    assert status == 200
    ip = "192.0.2.51"
    junk = "A" * qr.CODE_LEN
    for body in ({"code": code}, {"code": junk}):
        for _ in range(max(cfg.validate_ip_burst, cfg.validate_ticket_burst) + 1):
            status, err = await check(tapi, fan, body["code"], ip=ip)
            assert (status, err["error"]["code"]) == (401, "invalid_token"), err
    for raw in ({"code": "  "}, {"code": 5}, {"nope": 1}):
        status, err = await tapi.call(
            "POST",
            "/api/tickets/validate",
            token=fan["access"],
            json=raw,
            headers={"X-Real-IP": ip},
        )
        assert (status, err["error"]["code"]) == (401, "invalid_token"), (raw, err)
    redis = tapi.app[REDIS]
    await redis.delete(LOADED_KEY, *[k async for k in redis.scan_iter(DENIED_PREFIX + "*")])
    status, err = await check(tapi, fan, code, ip=ip)
    assert (status, err["error"]["code"]) == (401, "invalid_token"), "rebuilt from PostgreSQL"

    fresh = await login(tapi, fan["email"], fan["password"])
    status, ok = await check(tapi, fresh, code, ip=ip)
    assert status == 200 and ok["ticket_id"] == ticket["id"], "no bucket was spent"
