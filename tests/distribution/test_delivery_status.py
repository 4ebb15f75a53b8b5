"""`GET /api/distribution/status/{id}`: the owner (or an admin) sees it, nobody else."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.conftest import admin_token
from tests.distribution.conftest import DistApp, Dsps, enqueue, make_package, owned_release
from tests.streaming import until


async def test_status_shows_each_dsp_to_the_owner_only(
    sshd: Dsps, dist_app: DistApp, tmp_path: Path
) -> None:
    api = await dist_app(sshd.env())
    artist = await api.register("artist")
    other = await api.register("artist")
    release = await owned_release(api, artist["user"]["id"])
    path = f"/api/distribution/status/{release}"

    status, body = await api.call("GET", path, token=artist["access"])
    assert status == 200 and body == {"release_id": str(release), "deliveries": []}

    await enqueue(
        api,
        [
            make_package(tmp_path, "spotify", release_id=release),
            make_package(tmp_path, "deezer", release_id=release),
        ],
    )

    async def delivered() -> dict[str, str] | None:
        status, body = await api.call("GET", path, token=artist["access"])
        assert status == 200, body
        states = {d["dsp"]: d["state"] for d in body["deliveries"]}
        return states if set(states.values()) == {"delivered"} else None

    assert await until(delivered, 30, "the status to show both deliveries") == {
        "spotify": "delivered",
        "deezer": "delivered",
    }
    _, body = await api.call("GET", path, token=artist["access"])
    assert {d["name"] for d in body["deliveries"]} == {"Spotify", "Deezer"}

    # Another artist learns nothing, not even that the release exists.
    missing = f"/api/distribution/status/{uuid.uuid4()}"
    status_other, body_other = await api.call("GET", path, token=other["access"])
    status_missing, body_missing = await api.call("GET", missing, token=other["access"])
    assert (status_other, body_other) == (status_missing, body_missing)
    assert status_other == 404
    assert (await api.call("GET", path))[0] == 401
    assert (await api.call("GET", "/api/distribution/status/nope", token=artist["access"]))[
        0
    ] == 400
    status, body = await api.call("GET", path, token=await admin_token(api))
    assert status == 200 and len(body["deliveries"]) == 2
