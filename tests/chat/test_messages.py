"""Messages: cleaning and limits, broadcast, persistence, history, rate limits and bad input."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable

from redis.asyncio import Redis

from server.chat import CHAT
from server.clock import Clock
from server.keys import DB
from tests.chat.conftest import Client, joined, new_show
from tests.conftest import Api


async def test_message_is_cleaned_broadcast_and_persisted(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan", display_name="Fan One")
    sender = await joined(clients, url, fan["access"], show.id)
    reader = await joined(clients, url, show.artist_token, show.id)
    reply = await sender.call(
        "send", {"event_id": show.id, "text": "  hello\x00\x07 \u202eworld\r\n\tagain  "}
    )
    assert reply["ok"] is True
    message = reply["message"]
    assert message["text"] == "hello world again"
    assert message["author"] == {"id": fan["user"]["id"], "name": "Fan One"}
    assert message["event_id"] == show.id and message["ts"].endswith("+00:00")
    uuid.UUID(message["id"])
    assert await reader.wait_for("message") == message
    assert await sender.wait_for("message") == message  # the sender's other tabs see it too
    await api.app[CHAT].writer.flush()
    async with api.app[DB].acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM chat_messages WHERE id = $1::uuid", message["id"])
    assert row["body"] == "hello world again" and str(row["author_id"]) == fan["user"]["id"]
    assert row["deleted_at"] is None


async def test_text_bounds(api: Api, url: str, clock: Clock, clients: Callable[[], Client]) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    for text in ("", "   ", "\x00\x01\n", "x" * 501, 42, None, ["a"]):
        reply = await client.call("send", {"event_id": show.id, "text": text})
        assert reply["error"]["code"] == "invalid_text", (text, reply)
    # Length counts characters after trimming, not bytes.
    for text in ("é" * 500, "  " + "y" * 500 + "  ", "🎸"):
        reply = await client.call("send", {"event_id": show.id, "text": text})
        assert reply.get("ok"), reply
        clock.advance(1)


async def test_bad_payloads_get_clear_errors_and_harm_no_one(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    bad = await joined(clients, url, fan["access"], show.id)
    witness = await joined(clients, url, show.artist_token, show.id)
    cases = [
        ("send", ("a string",)),
        ("send", ([1, 2],)),
        ("send", (None,)),
        ("send", ()),
        ("send", ({"event_id": show.id, "text": "hi"}, "extra")),
        ("send", ({"text": "no room"},)),
        ("send", ({"event_id": "nope", "text": "x"},)),
        ("send", ({"event_id": str(uuid.uuid4()), "text": "not joined"},)),
        # The payload is parsed before any rule runs (as REST bodies are), so a malformed
        # moderation request is invalid whoever sends it; a well-formed one is refused.
        ("delete", ({"event_id": show.id},)),
        ("ban", ({"event_id": show.id, "user_id": 5},)),
        ("delete", ({"event_id": show.id, "message_id": str(uuid.uuid4())},)),
        ("no_such_event", ({"x": 1},)),
    ]
    expected = ["invalid_payload"] * 5 + [
        "invalid_payload",
        "invalid_payload",
        "not_joined",
        "invalid_payload",
        "invalid_payload",
        "not_moderator",
        "unknown_event",
    ]
    for (event, args), code in zip(cases, expected, strict=True):
        reply = await bad.call_raw(event, *args)
        assert reply["error"]["code"] == code, (event, args, reply)
        assert reply["error"]["message"]
    # The same connection and everyone else keep working.
    reply = await bad.call("send", {"event_id": show.id, "text": "still here"})
    assert reply["ok"]
    await witness.wait_for("message", lambda m: m["text"] == "still here")


async def test_rate_limit_per_user(
    api: Api, url: str, clock: Clock, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    phone = await joined(clients, url, fan["access"], show.id)
    laptop = await joined(clients, url, fan["access"], show.id)
    for i in range(3):
        assert (
            await (phone if i % 2 else laptop).call("send", {"event_id": show.id, "text": f"m{i}"})
        )["ok"]
    # The bucket is the user's, so the second connection cannot dodge it.
    for client in (phone, laptop):
        reply = await client.call("send", {"event_id": show.id, "text": "too fast"})
        assert reply["error"]["code"] == "rate_limited"
        assert 0 < reply["error"]["retry_after_ms"] <= 2000
    clock.advance(0.7)
    assert (await phone.call("send", {"event_id": show.id, "text": "refilled"}))["ok"]


async def test_slow_mode(api: Api, url: str, clock: Clock, clients: Callable[[], Client]) -> None:
    show = await new_show(api)
    fan, late = await api.register("fan"), await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    assert (await client.call("slow_mode", {"event_id": show.id, "seconds": 30}))["error"][
        "code"
    ] == "not_moderator"
    assert (await artist.call("slow_mode", {"event_id": show.id, "seconds": 30}))["ok"]
    assert (await client.wait_for("slow_mode")) == {"event_id": show.id, "seconds": 30}
    assert (await client.call("send", {"event_id": show.id, "text": "one"}))["ok"]
    reply = await client.call("send", {"event_id": show.id, "text": "two"})
    assert (
        reply["error"]["code"] == "slow_mode"
        and 29_000 < reply["error"]["retry_after_ms"] <= 30_000
    )
    # Moderators are not slowed down.
    for text in ("a", "b"):
        assert (await artist.call("send", {"event_id": show.id, "text": text}))["ok"]
    # A new joiner learns the setting from the join reply.
    reply = await (await joined(clients, url, late["access"], show.id)).call(
        "join", {"event_id": show.id}
    )
    assert reply["slow_mode"] == 30
    clock.advance(30)
    assert (await client.call("send", {"event_id": show.id, "text": "three"}))["ok"]
    for bad in (-1, 3601, "10", 1.5, True):
        reply = await artist.call("slow_mode", {"event_id": show.id, "seconds": bad})
        assert reply["error"]["code"] == "invalid_payload", bad


async def test_reconnect_gets_the_last_50_visible_messages(
    api: Api, url: str, clock: Clock, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    # Two connections share the sending, so the per-connection event budget is not what limits.
    pair = [await joined(clients, url, fan["access"], show.id) for _ in range(2)]
    sent = []
    for i in range(55):
        reply = await pair[i % 2].call("send", {"event_id": show.id, "text": f"line {i}"})
        assert reply.get("ok"), (i, reply)
        sent.append(reply["message"])
        clock.advance(1)
    for client in pair:
        await client.close()
    again = await joined(clients, url, fan["access"], show.id)
    reply = await again.call("join", {"event_id": show.id})
    assert reply["messages"] == sent[-50:]
    status, body = await api.call("GET", f"/api/live/{show.id}/chat", token=fan["access"])
    assert status == 200 and body["messages"] == sent[-50:]


async def test_history_survives_losing_the_redis_mirror(
    api: Api, url: str, redis: Redis, clock: Clock, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    texts = []
    for i in range(3):
        texts.append(
            (await client.call("send", {"event_id": show.id, "text": f"kept {i}"}))["message"][
                "text"
            ]
        )
        clock.advance(1)
    await api.app[CHAT].writer.flush()
    keys = [k async for k in redis.scan_iter(f"chat:ev:{show.id}:*")]
    assert keys
    await redis.delete(*keys)
    reply = await client.call("join", {"event_id": show.id})
    assert [m["text"] for m in reply["messages"]] == texts
    # Sending works again once the mirror reloaded.
    assert (await client.call("send", {"event_id": show.id, "text": "after"}))["ok"]


async def test_flood_from_one_connection(
    api: Api, url: str, clients: Callable[[], Client], clock: Clock
) -> None:
    show = await new_show(api)
    flooder_user = await api.register("fan")
    flooder = await joined(clients, url, flooder_user["access"], show.id)
    witness = await joined(clients, url, show.artist_token, show.id)
    # No refill while the burst is served, however long a busy machine takes to serve it.
    clock.freeze()
    replies = await asyncio.gather(
        *(flooder.call("send", {"event_id": show.id, "text": f"f{i}"}) for i in range(120))
    )
    clock.thaw()
    codes = [r["error"]["code"] for r in replies if "error" in r]
    assert sum(1 for r in replies if r.get("ok")) == 3
    assert set(codes) <= {"rate_limited", "too_many_events"} and "too_many_events" in codes
    # The room still works for everyone else.
    assert (await witness.call("send", {"event_id": show.id, "text": "calm"}))["ok"]
    await witness.wait_for("message", lambda m: m["text"] == "calm")


async def test_oversized_payload_closes_only_that_connection(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    from server.keys import CONFIG

    show = await new_show(api)
    fan = await api.register("fan")
    big = await joined(clients, url, fan["access"], show.id)
    witness = await joined(clients, url, show.artist_token, show.id)
    cap = api.app[CONFIG].max_body_bytes
    await big.sio.emit("send", {"event_id": show.id, "text": "x" * (cap + 1)})
    await asyncio.wait_for(big.disconnected.wait(), 5)
    assert (await witness.call("send", {"event_id": show.id, "text": "unaffected"}))["ok"]
    await witness.wait_for("message", lambda m: m["text"] == "unaffected")


async def test_malformed_packets_do_not_hurt_anyone(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    import json

    import aiohttp

    show = await new_show(api)
    fan = await api.register("fan")
    witness = await joined(clients, url, show.artist_token, show.id)
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, compress=0) as ws:
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40" + json.dumps({"token": fan["access"]}))
        assert (await ws.receive_str()).startswith("40")
        # Broken Socket.IO packets are dropped; the connection itself survives them.
        for junk in (
            "42[not json",
            "42{}",
            "42[]",
            "42[1,2]",
            '42["join"',
            "4x",
            "42" + "[" * 5000,
        ):
            await ws.send_str(junk)
        await ws.send_str('421["join",' + json.dumps({"event_id": show.id}) + "]")
        while True:
            reply = await asyncio.wait_for(ws.receive_str(), 5)
            if reply.startswith("431"):
                break
        assert json.loads(reply[3:])[0]["ok"] is True
    assert (await witness.call("send", {"event_id": show.id, "text": "fine"}))["ok"]
    await witness.wait_for("message", lambda m: m["text"] == "fine")


async def test_writer_isolates_a_bad_row(api: Api) -> None:
    from datetime import UTC, datetime

    from server.chat.writer import MessageWriter

    show = await new_show(api)
    author = uuid.UUID(show.artist["user"]["id"])
    good = (uuid.uuid4(), uuid.UUID(show.id), author, "Artist", "kept", datetime.now(UTC))
    orphan = (uuid.uuid4(), uuid.uuid4(), author, "Artist", "no such event", datetime.now(UTC))
    writer = MessageWriter(lambda: api.app[DB], interval=0.01, batch=10)
    writer.enqueue(orphan)
    writer.enqueue(good)
    await writer.flush()
    async with api.app[DB].acquire() as conn:
        found = await conn.fetch(
            "SELECT id FROM chat_messages WHERE id = ANY($1::uuid[])", [good[0], orphan[0]]
        )
    assert [r["id"] for r in found] == [good[0]]


# RFC 3339 in UTC as every reply writes it: an offset of +00:00, fractions only when non-zero.
WIRE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")


async def test_chat_and_rest_write_timestamps_alike(
    api: Api, url: str, clock: Clock, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = clients()
    await client.connect(url, fan["access"])
    joined_reply = await client.call("join", {"event_id": show.id})
    sent = await client.call("send", {"event_id": show.id, "text": "hi"})
    artist = await joined(clients, url, show.artist_token, show.id)
    timed_out = await artist.call(
        "timeout", {"event_id": show.id, "user_id": fan["user"]["id"], "minutes": 5}
    )
    _, me = await api.call("GET", "/api/auth/me", token=fan["access"])
    _, event = await api.call("GET", f"/api/live/{show.id}")
    stamps = {
        "chat message": sent["message"]["ts"],
        "chat timeout": timed_out["until"],
        "chat join": joined_reply["event"]["created_at"],
        "account": me["created_at"],
        "event": event["created_at"],
        "event start": event["starts_at"],
    }
    for name, stamp in stamps.items():
        assert WIRE_TIME.fullmatch(stamp), (name, stamp)
