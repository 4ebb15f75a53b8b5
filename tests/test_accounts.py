"""Accounts over HTTP: register, login, refresh rotation and reuse, logout, forged tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import jwt

from tests.conftest import Api, login


async def test_register_login_me(api: Api) -> None:
    user = await api.register("fan")
    assert set(user) >= {"access", "refresh", "user"}
    body = await login(api, user["email"].upper(), user["password"])
    assert body["user"]["email"] == user["email"] and body["user"]["role"] == "fan"
    status, me = await api.call("GET", "/api/auth/me", token=body["access"])
    assert status == 200 and me["id"] == user["user"]["id"]


async def test_password_stored_as_argon2id(api: Api) -> None:
    from server.keys import DB

    user = await api.register("fan")
    async with api.app[DB].acquire() as conn:
        stored = await conn.fetchval(
            "SELECT password_hash FROM users WHERE id = $1::uuid", user["user"]["id"]
        )
    assert stored.startswith("$argon2id$") and user["password"] not in stored


async def test_duplicate_email_conflicts(api: Api) -> None:
    user = await api.register("fan")
    status, body = await api.call(
        "POST", "/api/auth/register", json={"email": user["email"].upper(), "password": "x" * 12}
    )
    assert status == 409 and body["error"]["code"] == "email_taken"


async def test_register_rejects_bad_input(api: Api) -> None:
    cases = [
        {"email": "not-an-email", "password": "long enough"},
        {"email": "a@b.co", "password": "short"},
        {"email": "a@b.co", "password": 12345678},
        {"email": "a@b.co", "password": "long enough", "role": "admin"},
        {"email": ["a@b.co"], "password": "long enough"},
        {"password": "long enough"},
    ]
    for case in cases:
        status, body = await api.call("POST", "/api/auth/register", json=case)
        assert status == 400, (case, body)
        assert body["error"]["code"]
    for raw in (b"{", b"[]", b"", b"\xff\xfe"):
        status, body = await api.call(
            "POST", "/api/auth/register", data=raw, headers={"Content-Type": "application/json"}
        )
        assert status == 400 and body["error"]["code"] == "invalid_json", raw


async def test_oversized_body_is_413(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/auth/login", data=b"x" * 200_000, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and body["error"]["code"] == "too_large"


async def test_refresh_rotates_and_reuse_revokes_family(api: Api) -> None:
    user = await api.register("fan")
    status, first = await api.call("POST", "/api/auth/refresh", json={"refresh": user["refresh"]})
    assert status == 200 and first["refresh"] != user["refresh"]
    # The old token comes back (stolen copy): the whole family dies, including the new one.
    status, body = await api.call("POST", "/api/auth/refresh", json={"refresh": user["refresh"]})
    assert status == 401 and body["error"]["code"] == "token_reused"
    status, body = await api.call("POST", "/api/auth/refresh", json={"refresh": first["refresh"]})
    assert status == 401


async def test_concurrent_refresh_only_one_wins(api: Api) -> None:
    user = await api.register("fan")
    results = await asyncio.gather(
        *(
            api.call("POST", "/api/auth/refresh", json={"refresh": user["refresh"]})
            for _ in range(10)
        )
    )
    assert sorted(status for status, _ in results).count(200) == 1


async def test_logout_revokes_access_and_refresh(api: Api) -> None:
    user = await api.register("fan")
    status, _ = await api.call(
        "POST", "/api/auth/logout", token=user["access"], json={"refresh": user["refresh"]}
    )
    assert status == 200
    status, _ = await api.call("GET", "/api/auth/me", token=user["access"])
    assert status == 401
    status, _body = await api.call("POST", "/api/auth/refresh", json={"refresh": user["refresh"]})
    assert status == 401


async def test_logout_everywhere_ends_every_session_of_the_account_only(api: Api) -> None:
    phone = await api.register("fan")
    email, password = phone["email"], phone["password"]
    browser = await login(api, email, password)
    other = await api.register("fan")
    status, _ = await api.call(
        "POST", "/api/auth/logout", token=phone["access"], json={"everywhere": True}
    )
    assert status == 200
    for session in (phone, browser):
        assert (await api.call("GET", "/api/auth/me", token=session["access"]))[0] == 401
        refreshed = await api.call(
            "POST", "/api/auth/refresh", json={"refresh": session["refresh"]}
        )
        assert refreshed[0] == 401, refreshed
    # Another account is untouched, and the owner can sign in again.
    assert (await api.call("GET", "/api/auth/me", token=other["access"]))[0] == 200
    again = await login(api, email, password)
    assert (await api.call("GET", "/api/auth/me", token=again["access"]))[0] == 200
    # Only a boolean says "everywhere".
    status, body = await api.call(
        "POST", "/api/auth/logout", token=again["access"], json={"everywhere": "yes"}
    )
    assert status == 400, body
    assert (await api.call("GET", "/api/auth/me", token=again["access"]))[0] == 200


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_tokens_are_refused(api: Api) -> None:
    user = await api.register("fan")
    claims = jwt.decode(user["access"], options={"verify_signature": False})
    elevated = {**claims, "role": "admin"}
    now = int(time.time())
    forged = [
        _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(elevated) + ".",
        jwt.encode(elevated, "a wrong key that is long enough to be plausible", algorithm="HS256"),
        jwt.encode({**claims, "exp": now - 10}, "x" * 40, algorithm="HS256"),
        user["access"][:-4] + "AAAA",
        "garbage",
        user["refresh"],
    ]
    for token in forged:
        status, body = await api.call("GET", "/api/auth/me", token=token)
        assert status == 401 and body["error"]["code"] == "invalid_token", token
    status, body = await api.call("GET", "/api/auth/me", headers={"Authorization": "Basic abc"})
    assert status == 401


async def test_expired_access_token_is_refused(api: Api, clock) -> None:  # type: ignore[no-untyped-def]
    user = await api.register("fan")
    clock.advance(16 * 60)
    status, body = await api.call("GET", "/api/auth/me", token=user["access"])
    assert status == 401 and "expired" in body["error"]["message"]


async def test_failed_logins_rate_limited_per_account(api: Api) -> None:
    user = await api.register("fan")
    for i in range(5):
        status, _ = await api.call(
            "POST",
            "/api/auth/login",
            json={"email": user["email"], "password": f"wrong-{i}"},
            headers={"X-Real-IP": f"10.9.0.{i}"},
        )
        assert status == 401
    status, body = await api.call(
        "POST",
        "/api/auth/login",
        json={"email": user["email"], "password": user["password"]},
        headers={"X-Real-IP": "10.9.1.1"},
    )
    assert status == 429 and body["error"]["code"] == "rate_limited"


async def test_failed_logins_rate_limited_per_ip(api: Api, redis) -> None:  # type: ignore[no-untyped-def]
    ip = "10.77.0.1"
    victim = await api.register("fan")
    # The session's config allows 1000 failures per IP; prime the counter to its edge.
    await redis.set(f"auth:fail:ip:{ip}", 1000, ex=60)
    status, _body = await api.call(
        "POST",
        "/api/auth/login",
        json={"email": victim["email"], "password": victim["password"]},
        headers={"X-Real-IP": ip},
    )
    assert status == 429
    status, _ = await api.call(
        "POST",
        "/api/auth/login",
        json={"email": victim["email"], "password": victim["password"]},
        headers={"X-Real-IP": "10.77.0.2"},
    )
    assert status == 200


async def test_unknown_email_and_wrong_password_look_alike(api: Api) -> None:
    user = await api.register("fan")
    a = await api.call(
        "POST", "/api/auth/login", json={"email": "nobody@example.test", "password": "x" * 9}
    )
    b = await api.call(
        "POST", "/api/auth/login", json={"email": user["email"], "password": "x" * 9}
    )
    assert a[0] == b[0] == 401 and a[1] == b[1]


async def test_only_admin_sets_roles(api: Api) -> None:
    fan = await api.register("fan")
    status, _body = await api.call(
        "POST",
        f"/api/admin/users/{fan['user']['id']}/role",
        token=fan["access"],
        json={"role": "admin"},
    )
    assert status == 403


async def test_concurrent_guesses_cannot_outrun_the_limit(api: Api) -> None:
    user = await api.register("fan")
    results = await asyncio.gather(
        *(
            api.call(
                "POST",
                "/api/auth/login",
                json={"email": user["email"], "password": f"guess-{i}"},
                headers={"X-Real-IP": f"10.8.{i // 250}.{i % 250}"},
            )
            for i in range(40)
        )
    )
    statuses = [status for status, _ in results]
    assert statuses.count(401) <= 5 and statuses.count(429) >= 35, statuses


async def test_role_change_revokes_outstanding_tokens(api: Api) -> None:
    from tests.conftest import admin_token, promote

    artist = await api.register("artist")
    status, event = await api.call(
        "POST",
        "/api/live/create",
        token=artist["access"],
        json={
            "title": "paid",
            "starts_at": "2030-01-01T00:00:00Z",
            "price": 999,
            "currency": "EUR",
        },
    )
    user = await api.register("fan")
    mod_token = await promote(api, user, "moderator")
    status, _ = await api.call("POST", f"/api/live/{event['id']}/playback", token=mod_token)
    assert status == 200
    status, _ = await api.call(
        "POST",
        f"/api/admin/users/{user['user']['id']}/role",
        token=await admin_token(api),
        json={"role": "fan"},
    )
    assert status == 200
    status, body = await api.call("POST", f"/api/live/{event['id']}/playback", token=mod_token)
    assert status == 401 and body["error"]["code"] == "invalid_token"


async def test_reuse_racing_rotation_kills_the_new_token_too(api: Api) -> None:
    for _ in range(10):
        user = await api.register("fan")
        results = await asyncio.gather(
            *(
                api.call("POST", "/api/auth/refresh", json={"refresh": user["refresh"]})
                for _ in range(8)
            )
        )
        if not any(
            status == 401 and body["error"]["code"] == "token_reused" for status, body in results
        ):
            continue
        for status, body in results:
            if status == 200:
                again, _ = await api.call(
                    "POST", "/api/auth/refresh", json={"refresh": body["refresh"]}
                )
                assert again == 401, "a reuse must revoke the token rotated in the same race"
