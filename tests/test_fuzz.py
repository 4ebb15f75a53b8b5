"""Random JSON and form bodies at every write endpoint: always a 4xx with a JSON reason, never a 500."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from server.keys import CONFIG
from tests.conftest import Api

ATOMS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    1.5,
    "",
    " ",
    "x" * 5000,
    "\u0000",
    "\U0001f3b5",
    "2030-01-01T00:00:00Z",
    "not-a-date",
    "EUR",
    "admin",
    str(uuid.uuid4()),
]
FIELDS = [
    "email",
    "password",
    "role",
    "refresh",
    "title",
    "description",
    "starts_at",
    "price",
    "currency",
    "capacity",
    "replay_access",
    "session_id",
    "display_name",
]


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2 and roll < 0.3:
        return {rng.choice(FIELDS): value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(ATOMS)


def body(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.1:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
    if kind < 0.2:
        return json.dumps(value(rng)).encode()
    fields = {name: value(rng) for name in rng.sample(FIELDS, rng.randint(0, len(FIELDS)))}
    return json.dumps(fields).encode()


async def test_random_bodies_never_cause_server_errors(api: Api) -> None:
    rng = random.Random(20261124)
    artist = await api.register("artist")
    event = await api.create_event(artist["access"])
    endpoints = [
        ("POST", "/api/auth/register", None),
        ("POST", "/api/auth/login", None),
        ("POST", "/api/auth/refresh", None),
        ("POST", "/api/live/create", artist["access"]),
        ("PATCH", f"/api/live/{event['id']}", artist["access"]),
        ("POST", f"/api/live/{event['id']}/playback", artist["access"]),
        ("POST", f"/api/admin/users/{uuid.uuid4()}/role", artist["access"]),
    ]
    for _ in range(400):
        method, path, token = rng.choice(endpoints)
        status, reply = await api.call(
            method, path, token=token, data=body(rng), headers={"Content-Type": "application/json"}
        )
        assert status < 500, (path, reply)
        if status >= 400:
            assert isinstance(reply, dict) and reply["error"]["code"], (path, reply)


async def test_random_hook_forms_never_cause_server_errors(api: Api) -> None:
    rng = random.Random(7)
    secret = api.app[CONFIG].hook_secret
    names = ["name", "clientid", "call", "app", "addr", "flashver", "type"]
    for _ in range(200):
        form = {
            n: str(rng.choice(ATOMS)).replace("\u0000", "")
            for n in rng.sample(names, rng.randint(0, 7))
        }
        hook = rng.choice(["publish", "publish_done", "play"])
        async with api.session.post(
            f"{api.base_url}/hooks/rtmp/{secret}/{hook}", data=form, allow_redirects=False
        ) as resp:
            assert resp.status < 500, (hook, form, await resp.text())


async def test_nul_and_control_characters_are_refused_not_crashing(api: Api) -> None:
    artist = await api.register("artist")
    for field in ("title", "description"):
        status, reply = await api.call(
            "POST",
            "/api/live/create",
            token=artist["access"],
            json={
                "title": "ok",
                "starts_at": "2030-01-01T00:00:00Z",
                "price": 0,
                field: "a\u0000b",
            },
        )
        assert status == 400 and reply["error"]["code"] == "invalid_field", reply
    status, reply = await api.call(
        "POST", "/api/auth/register", json={"email": "a\u0000@b.co", "password": "long enough"}
    )
    assert status == 400
