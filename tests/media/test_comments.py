"""Video comments: a Socket.IO room per video on the chat's server, moderation, REST listing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.chat.conftest import Client
from tests.conftest import Api, promote
from tests.media.engage import artist_with_video
from tests.videos import ready_video


async def joined(
    clients: Callable[[], Client], url: str, token: str, video_id: str
) -> tuple[Client, dict[str, Any]]:
    client = clients()
    await client.connect(url, token)
    reply = await client.call("join_video", {"video_id": video_id})
    return client, reply


async def test_comments_reach_the_room_and_the_listing_with_one_level_of_replies(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    _artist, video = await artist_with_video(api)
    fan, other = await api.register("fan"), await api.register("fan")
    watcher, reply = await joined(clients, url, other["access"], video["id"])
    assert reply["ok"] is True and reply["comments"] == [] and reply["moderator"] is False
    poster, _ = await joined(clients, url, fan["access"], video["id"])
    first = await poster.call("comment", {"video_id": video["id"], "body": "  first!  "})
    assert first["ok"] is True and first["comment"]["body"] == "first!"
    seen = await watcher.wait_for("video_comment", lambda d: d["id"] == first["comment"]["id"])
    assert seen["author"] == {"id": fan["user"]["id"], "display_name": fan["user"]["display_name"]}
    root = first["comment"]["id"]
    answer = await watcher.call(
        "comment", {"video_id": video["id"], "body": "welcome", "parent_id": root}
    )
    assert answer["comment"]["parent_id"] == root
    # A reply to a reply joins the thread of its root: one level deep.
    deeper = await poster.call(
        "comment",
        {"video_id": video["id"], "body": "thanks", "parent_id": answer["comment"]["id"]},
    )
    assert deeper["comment"]["parent_id"] == root
    second = await poster.call("comment", {"video_id": video["id"], "body": "second"})
    status, page = await api.call("GET", f"/api/videos/{video['id']}/comments")
    assert status == 200 and page["next"] is None
    assert [c["id"] for c in page["items"]] == [second["comment"]["id"], root]
    assert [r["body"] for r in page["items"][1]["replies"]] == ["welcome", "thanks"]
    assert all(r["replies"] == [] for r in page["items"][1]["replies"])


async def test_the_listing_pages_by_keyset_newest_first(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    artist, video = await artist_with_video(api)
    client, _ = await joined(clients, url, artist["access"], video["id"])
    posted = []
    for n in range(5):
        reply = await client.call("comment", {"video_id": video["id"], "body": f"c{n}"})
        posted.append(reply["comment"]["id"])
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await api.call("GET", f"/api/videos/{video['id']}/comments{query}")
        assert status == 200 and len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == posted[::-1]


async def test_the_artist_deletes_comments_and_mutes_commenters(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    artist, video = await artist_with_video(api)
    fan, bystander = await api.register("fan"), await api.register("fan")
    mod, reply = await joined(clients, url, artist["access"], video["id"])
    assert reply["moderator"] is True
    troll, _ = await joined(clients, url, fan["access"], video["id"])
    other, _ = await joined(clients, url, bystander["access"], video["id"])
    bad = (await troll.call("comment", {"video_id": video["id"], "body": "spam"}))["comment"]
    # Others may not delete it or mute anyone.
    refused = await other.call("delete_comment", {"video_id": video["id"], "comment_id": bad["id"]})
    assert refused["error"]["code"] == "not_moderator"
    refused = await other.call(
        "mute_commenter", {"video_id": video["id"], "user_id": fan["user"]["id"]}
    )
    assert refused["error"]["code"] == "not_moderator"
    done = await mod.call("delete_comment", {"video_id": video["id"], "comment_id": bad["id"]})
    assert done["ok"] is True
    await other.wait_for("video_comment_deleted", lambda d: d["comment_id"] == bad["id"])
    _, page = await api.call("GET", f"/api/videos/{video['id']}/comments")
    assert bad["id"] not in [c["id"] for c in page["items"]]
    again = await mod.call("delete_comment", {"video_id": video["id"], "comment_id": bad["id"]})
    assert again["error"]["code"] == "comment_not_found"
    muted = await mod.call(
        "mute_commenter", {"video_id": video["id"], "user_id": fan["user"]["id"]}
    )
    assert muted == {"ok": True, "user_id": fan["user"]["id"], "muted": True}
    refused = await troll.call("comment", {"video_id": video["id"], "body": "more spam"})
    assert refused["error"]["code"] == "muted"
    _, page = await api.call("GET", f"/api/videos/{video['id']}/comments")
    assert page["items"] == []
    await mod.call("unmute_commenter", {"video_id": video["id"], "user_id": fan["user"]["id"]})
    assert (await troll.call("comment", {"video_id": video["id"], "body": "sorry"}))["ok"] is True
    # An author deletes their own comment.
    own = (await other.call("comment", {"video_id": video["id"], "body": "oops"}))["comment"]
    gone = await other.call("delete_comment", {"video_id": video["id"], "comment_id": own["id"]})
    assert gone["ok"] is True


async def test_platform_moderators_moderate_any_video(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    _, video = await artist_with_video(api)
    staff = await api.register("fan")
    token = await promote(api, staff, "moderator")
    fan = await api.register("fan")
    author, _ = await joined(clients, url, fan["access"], video["id"])
    posted = (await author.call("comment", {"video_id": video["id"], "body": "hi"}))["comment"]
    mod, reply = await joined(clients, url, token, video["id"])
    assert reply["moderator"] is True
    done = await mod.call("delete_comment", {"video_id": video["id"], "comment_id": posted["id"]})
    assert done["ok"] is True


async def test_comments_are_rate_limited_per_user(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    _, video = await artist_with_video(api)
    fan = await api.register("fan")
    client, _ = await joined(clients, url, fan["access"], video["id"])
    replies = [
        await client.call("comment", {"video_id": video["id"], "body": f"n{n}"}) for n in range(8)
    ]
    limited = [r for r in replies if "error" in r]
    assert limited and all(r["error"]["code"] == "rate_limited" for r in limited)
    assert limited[0]["error"]["retry_after_ms"] > 0
    _, page = await api.call("GET", f"/api/videos/{video['id']}/comments?limit=50")
    assert len(page["items"]) == len(replies) - len(limited)


@pytest.mark.parametrize("visibility", ["private", "followers"])
async def test_a_hidden_video_has_no_room_and_no_listing(
    api: Api, url: str, clients: Callable[[], Client], visibility: str
) -> None:
    _, video = await artist_with_video(api, visibility=visibility)
    fan = await api.register("fan")
    client, reply = await joined(clients, url, fan["access"], video["id"])
    missing = await client.call("join_video", {"video_id": str(uuid.uuid4())})
    assert reply == missing
    assert reply["error"]["code"] == "video_not_found"
    hidden = await api.call("GET", f"/api/videos/{video['id']}/comments", token=fan["access"])
    absent = await api.call("GET", f"/api/videos/{uuid.uuid4()}/comments", token=fan["access"])
    assert hidden == absent and hidden[0] == 404


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("comment", {"video_id": "V", "body": ""}, "invalid_payload"),
        ("comment", {"video_id": "V", "body": "x" * 501}, "invalid_payload"),
        ("comment", {"video_id": "V", "body": 5}, "invalid_payload"),
        ("comment", {"video_id": "nope", "body": "hi"}, "invalid_payload"),
        ("comment", {"video_id": "V", "body": "hi", "parent_id": "P"}, "comment_not_found"),
        ("comment", {"video_id": "O", "body": "hi"}, "not_joined"),
        ("join_video", {}, "invalid_payload"),
        ("delete_comment", {"video_id": "V", "comment_id": "P"}, "comment_not_found"),
        ("mute_commenter", {"video_id": "V", "user_id": "ME"}, "cannot_sanction"),
    ],
)
async def test_bad_comment_events_are_refused(
    api: Api,
    url: str,
    clients: Callable[[], Client],
    event: str,
    payload: dict[str, Any],
    code: str,
) -> None:
    artist, video = await artist_with_video(api)
    _, other = await artist_with_video(api)
    client, _ = await joined(clients, url, artist["access"], video["id"])
    names = {"V": video["id"], "O": other["id"], "P": str(uuid.uuid4()), "ME": artist["user"]["id"]}
    filled = {k: names.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    reply = await client.call(event, filled)
    assert reply["error"]["code"] == code, reply
    _, page = await api.call("GET", f"/api/videos/{video['id']}/comments")
    assert page["items"] == []


async def test_a_connection_joins_at_most_five_video_rooms(
    api: Api, url: str, clients: Callable[[], Client]
) -> None:
    artist = await api.register("artist")
    ids = [(await ready_video(api, artist["access"]))["id"] for _ in range(6)]
    client = clients()
    await client.connect(url, artist["access"])
    for video_id in ids[:5]:
        assert (await client.call("join_video", {"video_id": video_id}))["ok"] is True
    refused = await client.call("join_video", {"video_id": ids[5]})
    assert refused["error"]["code"] == "too_many_rooms"
    await client.call("leave_video", {"video_id": ids[0]})
    assert (await client.call("join_video", {"video_id": ids[5]}))["ok"] is True
