"""Moderation: delete, timeout, ban, unban, slow mode, pin, moderator assignment, audit events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from server import audit
from server.chat import CHAT
from server.clock import Clock
from server.keys import DB
from tests.chat.conftest import Client, joined, moderator_token, new_show
from tests.conftest import Api, admin_token

Logged = list[tuple[str, str | None, str | None, dict[str, Any]]]


@pytest.fixture
def audited(monkeypatch: pytest.MonkeyPatch) -> Logged:
    """Every audit.log call made during the test."""
    calls: Logged = []

    async def record(
        app: object, event_type: str, *, actor: object = None, subject: object = None, **data: Any
    ) -> None:
        calls.append(
            (
                event_type,
                None if actor is None else str(actor),
                None if subject is None else str(subject),
                data,
            )
        )

    monkeypatch.setattr(audit, "log", record)
    return calls


def of_type(calls: Logged, event_type: str) -> list[tuple[str | None, str | None, dict[str, Any]]]:
    """Calls of one type, without the type."""
    return [(a, s, d) for t, a, s, d in calls if t == event_type]


async def test_delete_message(
    api: Api, url: str, audited: Logged, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan, other = await api.register("fan"), await api.register("fan")
    author = await joined(clients, url, fan["access"], show.id)
    reader = await joined(clients, url, other["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    keep = (await author.call("send", {"event_id": show.id, "text": "keep"}))["message"]
    gone = (await author.call("send", {"event_id": show.id, "text": "gone"}))["message"]
    # Deleted before the writer's batch reached PostgreSQL: the delete must still stick.
    reply = await reader.call("delete", {"event_id": show.id, "message_id": gone["id"]})
    assert reply["error"]["code"] == "not_moderator"
    reply = await artist.call("delete", {"event_id": show.id, "message_id": gone["id"]})
    assert reply == {"ok": True, "message_id": gone["id"]}
    notice = {"event_id": show.id, "message_id": gone["id"]}
    assert await reader.wait_for("message_deleted") == notice
    assert await author.wait_for("message_deleted") == notice
    await api.app[CHAT].writer.flush()
    async with api.app[DB].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT deleted_at, deleted_by FROM chat_messages WHERE id = $1::uuid", gone["id"]
        )
    assert row["deleted_at"] is not None and str(row["deleted_by"]) == show.artist["user"]["id"]
    history = (await reader.call("join", {"event_id": show.id}))["messages"]
    assert [m["id"] for m in history] == [keep["id"]]
    # Again (idempotent), on a flushed message, and on unknown ids.
    assert (await artist.call("delete", {"event_id": show.id, "message_id": gone["id"]}))["ok"]
    assert (await artist.call("delete", {"event_id": show.id, "message_id": keep["id"]}))["ok"]
    missing = await artist.call("delete", {"event_id": show.id, "message_id": str(uuid.uuid4())})
    assert missing["error"]["code"] == "not_found"
    deleted = of_type(audited, "CHAT_MESSAGE_DELETED")
    assert deleted[0] == (
        show.artist["user"]["id"],
        gone["id"],
        {"event_id": show.id, "author_id": fan["user"]["id"]},
    )
    assert len(deleted) == 3


async def test_timeout(
    api: Api, url: str, clock: Clock, audited: Logged, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    mod = await moderator_token(api)
    client = await joined(clients, url, fan["access"], show.id)
    moderator = await joined(clients, url, mod, show.id)
    reply = await moderator.call(
        "timeout", {"event_id": show.id, "user_id": fan["user"]["id"], "minutes": 5}
    )
    assert reply["ok"] and reply["user_id"] == fan["user"]["id"]
    notice = await client.wait_for("user_timed_out")
    assert notice["user_id"] == fan["user"]["id"] and notice["until"] == reply["until"]
    refused = await client.call("send", {"event_id": show.id, "text": "hello?"})
    assert refused["error"]["code"] == "timed_out" and refused["error"]["until"] == reply["until"]
    # Still in the room: a timed-out user reads along, and a rejoin says until when.
    assert (await client.call("join", {"event_id": show.id}))["timed_out_until"] == reply["until"]
    clock.advance(5 * 60 + 1)
    assert (await client.call("send", {"event_id": show.id, "text": "back"}))["ok"]
    ((_, subject, data),) = of_type(audited, "USER_TIMED_OUT")
    assert subject == fan["user"]["id"] and data["minutes"] == 5 and data["event_id"] == show.id
    for bad in (0, -3, 10081, "5", None):
        reply = await moderator.call(
            "timeout", {"event_id": show.id, "user_id": fan["user"]["id"], "minutes": bad}
        )
        assert reply["error"]["code"] == "invalid_payload", bad


async def test_moderators_cannot_be_sanctioned(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    helper = await api.register("fan")
    status, _ = await api.call(
        "POST",
        f"/api/live/{show.id}/moderators",
        token=show.artist_token,
        json={"user_id": helper["user"]["id"]},
    )
    assert status == 201
    moderator = await joined(clients, url, helper["access"], show.id)
    for target in (show.artist["user"]["id"], helper["user"]["id"]):
        for action in ("timeout", "ban"):
            reply = await moderator.call(
                action, {"event_id": show.id, "user_id": target, "minutes": 1}
            )
            assert reply["error"]["code"] == "cannot_sanction", (action, target)
    reply = await moderator.call("ban", {"event_id": show.id, "user_id": str(uuid.uuid4())})
    assert reply["error"]["code"] == "not_found"
    # The assigned helper does moderate: ban works on a fan.
    assert (await moderator.call("ban", {"event_id": show.id, "user_id": fan["user"]["id"]}))["ok"]


async def test_ban_removes_and_keeps_out(
    api: Api, url: str, audited: Logged, redis: Redis, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fan, other = await api.register("fan"), await api.register("fan")
    phone = await joined(clients, url, fan["access"], show.id)
    laptop = await joined(clients, url, fan["access"], show.id)
    witness = await joined(clients, url, other["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    reply = await artist.call("ban", {"event_id": show.id, "user_id": fan["user"]["id"]})
    assert reply == {"ok": True, "user_id": fan["user"]["id"], "already_banned": False}
    for device in (phone, laptop):
        assert await device.wait_for("banned") == {"event_id": show.id}
    assert (await witness.wait_for("user_banned"))["user_id"] == fan["user"]["id"]
    # Out of the room: no more broadcasts, cannot send, cannot come back.
    await witness.call("send", {"event_id": show.id, "text": "after the ban"})
    await witness.wait_for("message", lambda m: m["text"] == "after the ban")
    await phone.barrier()
    assert not phone.seen("message", lambda m: m["text"] == "after the ban")
    assert (await phone.call("send", {"event_id": show.id, "text": "x"}))["error"][
        "code"
    ] == "not_joined"
    assert (await phone.call("join", {"event_id": show.id}))["error"]["code"] == "banned"
    status, body = await api.call("GET", f"/api/live/{show.id}/viewers")
    assert status == 200 and body["viewers"] == 2
    # Durable: with the Redis mirror gone, PostgreSQL still keeps them out.
    keys = [k async for k in redis.scan_iter(f"chat:ev:{show.id}:*") if not k.endswith(":viewers")]
    await redis.delete(*keys)
    assert (await laptop.call("join", {"event_id": show.id}))["error"]["code"] == "banned"
    again = await artist.call("ban", {"event_id": show.id, "user_id": fan["user"]["id"]})
    assert again["ok"] and again["already_banned"] is True
    status, body = await api.call(
        "GET", f"/api/live/{show.id}/chat/sanctions", token=show.artist_token
    )
    assert status == 200 and [(s["user_id"], s["kind"]) for s in body["sanctions"]] == [
        (fan["user"]["id"], "ban")
    ]
    # Unban lets them back.
    assert (await artist.call("unban", {"event_id": show.id, "user_id": fan["user"]["id"]}))["ok"]
    assert (await phone.call("join", {"event_id": show.id}))["ok"]
    missing = await artist.call("unban", {"event_id": show.id, "user_id": fan["user"]["id"]})
    assert missing["error"]["code"] == "not_found"
    assert [s for _, s, _ in of_type(audited, "USER_BANNED")] == [fan["user"]["id"]]
    assert [s for _, s, _ in of_type(audited, "USER_UNBANNED")] == [fan["user"]["id"]]


async def test_pin(api: Api, url: str, audited: Logged, clients: Callable[[], Client]) -> None:
    show = await new_show(api)
    fan = await api.register("fan")
    client = await joined(clients, url, fan["access"], show.id)
    artist = await joined(clients, url, show.artist_token, show.id)
    message = (await client.call("send", {"event_id": show.id, "text": "pin me"}))["message"]
    assert (await client.call("pin", {"event_id": show.id, "message_id": message["id"]}))["error"][
        "code"
    ] == "not_moderator"
    reply = await artist.call("pin", {"event_id": show.id, "message_id": message["id"]})
    assert reply == {"ok": True, "message": message}
    assert await client.wait_for("message_pinned") == {"event_id": show.id, "message": message}
    assert (await client.call("join", {"event_id": show.id}))["pinned"] == message
    # Pinning a flushed message found only in PostgreSQL works too.
    await api.app[CHAT].writer.flush()
    assert (await artist.call("pin", {"event_id": show.id, "message_id": message["id"]}))["ok"]
    # Unpin with null; deleting a pinned message unpins it.
    assert (await artist.call("pin", {"event_id": show.id, "message_id": None}))["message"] is None
    assert (await client.call("join", {"event_id": show.id}))["pinned"] is None
    assert (await artist.call("pin", {"event_id": show.id, "message_id": message["id"]}))["ok"]
    assert (await artist.call("delete", {"event_id": show.id, "message_id": message["id"]}))["ok"]
    await client.wait_for("message_pinned", lambda d: d["message"] is None)
    assert (await client.call("join", {"event_id": show.id}))["pinned"] is None
    gone = await artist.call("pin", {"event_id": show.id, "message_id": message["id"]})
    assert gone["error"]["code"] == "not_found"
    assert (await artist.call("pin", {"event_id": show.id}))["error"]["code"] == "invalid_payload"
    pins = of_type(audited, "CHAT_MESSAGE_PINNED")
    assert len(pins) == 3 and all(s == message["id"] for _, s, _ in pins)
    assert len(of_type(audited, "CHAT_MESSAGE_UNPINNED")) == 1


async def test_slow_mode_is_audited(
    api: Api, url: str, audited: Logged, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    admin = await joined(clients, url, await admin_token(api), show.id)
    assert (await admin.call("slow_mode", {"event_id": show.id, "seconds": 10}))["ok"]
    ((_, subject, data),) = of_type(audited, "CHAT_SLOW_MODE_SET")
    assert subject == show.id and data == {"seconds": 10}


async def test_moderator_assignment_api(api: Api, url: str, audited: Logged) -> None:
    show = await new_show(api)
    fan, stranger = await api.register("fan"), await api.register("fan")
    path = f"/api/live/{show.id}/moderators"
    body = {"user_id": fan["user"]["id"]}
    assert (await api.call("POST", path, token=stranger["access"], json=body))[0] == 403
    assert (await api.call("POST", path, json=body))[0] == 401
    assert (await api.call("POST", path, token=show.artist_token, json=body))[0] == 201
    assert (await api.call("POST", path, token=show.artist_token, json=body))[0] == 200
    admin = await admin_token(api)
    assert (await api.call("POST", path, token=admin, json={"user_id": stranger["user"]["id"]}))[
        0
    ] == 201
    for bad in ({}, {"user_id": "x"}, {"user_id": 3}):
        status, reply = await api.call("POST", path, token=show.artist_token, json=bad)
        assert status == 400 and reply["error"]["code"] == "invalid_id", bad
    status, reply = await api.call(
        "POST", path, token=show.artist_token, json={"user_id": str(uuid.uuid4())}
    )
    assert status == 404
    status, reply = await api.call("GET", path, token=fan["access"])
    assert status == 200 and {m["user_id"] for m in reply["moderators"]} == {
        fan["user"]["id"],
        stranger["user"]["id"],
    }
    outsider = await api.register("fan")
    assert (await api.call("GET", path, token=outsider["access"]))[0] == 403
    assert (await api.call("DELETE", f"{path}/{stranger['user']['id']}", token=fan["access"]))[
        0
    ] == 403
    assert (await api.call("DELETE", f"{path}/{stranger['user']['id']}", token=show.artist_token))[
        0
    ] == 204
    assert (await api.call("DELETE", f"{path}/{stranger['user']['id']}", token=show.artist_token))[
        0
    ] == 404
    assert (await api.call("POST", f"/api/live/{uuid.uuid4()}/moderators", token=admin, json=body))[
        0
    ] == 404
    assert len(of_type(audited, "CHAT_MODERATOR_ASSIGNED")) == 2
    assert len(of_type(audited, "CHAT_MODERATOR_REMOVED")) == 1


async def test_timed_out_until_is_the_same_instant_everywhere(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    # The mirror once returned the end of a timeout to 14 digits, which moved it into the next
    # millisecond whenever its microseconds ended in 950-999 (about 1 in 20 timeouts).
    show = await new_show(api)
    fan = await api.register("fan")
    mod = await moderator_token(api)
    # Several connections, each within its per-connection event budget.
    fans = [await joined(clients, url, fan["access"], show.id) for _ in range(3)]
    moderators = [await joined(clients, url, mod, show.id) for _ in range(3)]
    for minutes in range(1, 61):
        reply = await moderators[minutes % 3].call(
            "timeout", {"event_id": show.id, "user_id": fan["user"]["id"], "minutes": minutes}
        )
        refused = await fans[minutes % 3].call("send", {"event_id": show.id, "text": "now?"})
        assert refused["error"]["until"] == reply["until"], (minutes, refused, reply)
