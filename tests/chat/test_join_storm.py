"""The join storm at show start: many fans joining at once share the work of joining."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis

from tests.chat.conftest import Client, new_show
from tests.conftest import Api
from tests.ticketing.conftest import make_fans

FANS = 120


async def command_calls(redis: Redis) -> dict[str, int]:
    """Calls per Redis command so far (INFO commandstats)."""
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_a_storm_of_joins_reads_shared_state_once_not_per_fan(
    api: Api, url: str, redis: Redis, clients: Callable[[], Client]
) -> None:
    show = await new_show(api)
    fans = await make_fans(api, FANS)
    # Two fans logged out: the storm's shared reads must still check every fan's own token.
    logged_out = {0, FANS // 2}
    for i in logged_out:
        status, _ = await api.call("POST", "/api/auth/logout", token=fans[i]["access"], json={})
        assert status == 200
    before = await command_calls(redis)

    async def arrive(token: str) -> dict[str, object]:
        client = clients()
        await client.connect(url, token)
        reply: dict[str, object] = await client.call("join", {"event_id": show.id})
        return reply

    results = await asyncio.gather(*(arrive(fan["access"]) for fan in fans), return_exceptions=True)
    after = await command_calls(redis)
    refused = {i for i, r in enumerate(results) if isinstance(r, BaseException)}
    assert refused == logged_out, [results[i] for i in refused - logged_out][:3]
    replies = [r for r in results if not isinstance(r, BaseException)]
    assert all(r.get("ok") for r in replies), [r for r in replies if not r.get("ok")][:3]
    assert max(int(str(r["viewers"])) for r in replies) <= FANS - len(logged_out)

    def calls(command: str) -> int:
        return after.get(command, 0) - before.get(command, 0)

    # Counting viewers reads the whole viewer set: once per join made a storm of N joins
    # cost N^2. A few reads a second now serve every join reply.
    # (The bound leaves room for other background work on the same Redis.)
    assert calls("zrangebyscore") <= 10, calls("zrangebyscore")
    # The cold event is loaded into the Redis mirror once (a GET of its version starts each
    # load), not once per fan who found it cold.
    assert calls("get") <= 10, calls("get")
    # Every fan's token is checked against revocations (the two refused above), in reads
    # shared by the fans connecting together.
    assert 1 <= calls("mget") < FANS // 2, calls("mget")

    status, body = await api.call("GET", f"/api/live/{show.id}/viewers")
    assert status == 200 and body["viewers"] == FANS - len(logged_out)
