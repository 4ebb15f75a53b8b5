"""Work that follows a commit is enqueued in it: a cancellation's refunds and the records of a
sale survive the process that committed them, and a refund that keeps failing is held for an
operator (`mhc jobs`, `mhc jobs retry`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from server.keys import CONFIG
from tests.conftest import Api
from tests.streaming import until
from tests.ticketing.conftest import ROOT, TEST_LIMITS, _start, make_user, paid_event
from ticketing.keys import RUNTIME
from ticketing.payments import PaymentError

Start = Callable[..., Awaitable[Api]]
RUNNERS: dict[int, web.AppRunner] = {}


@pytest.fixture
async def start(app_server: tuple[web.Application, str]) -> AsyncIterator[Start]:
    """Start app processes (dev payments) on a job queue of their own; stop them at the end."""
    sessions: list[aiohttp.ClientSession] = []
    mine: list[int] = []

    async def run(queue: str, **env: str) -> Api:
        runner, app, url = await _start(app_server, {**TEST_LIMITS, "MHC_JOBS_QUEUE": queue, **env})
        RUNNERS[id(app)] = runner
        mine.append(id(app))
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Api(session, url, app)

    yield run
    for session in sessions:
        await session.close()
    for key in mine:
        await stop(RUNNERS.pop(key, None))


async def stop(runner: web.AppRunner | None) -> None:
    if runner is not None:
        await runner.cleanup()


def mhc(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `mhc` CLI with the app's settings, as an operator on its host would."""
    env = {**os.environ, **api.app[CONFIG].env}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def buy(api: Api, fan: dict[str, Any], event_id: str) -> str:
    """Buy and "pay" with the development provider; the valid ticket's id."""
    status, body = await api.call(
        "POST", "/api/tickets/purchase", token=fan["access"], json={"streamId": event_id}
    )
    assert status == 201, body
    status, done = await api.call("POST", body["payment"]["confirm_url"], token=fan["access"])
    assert status == 200 and done["ticket"]["status"] == "valid", done
    return str(done["ticket"]["id"])


async def ticket(api: Api, fan: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    status, body = await api.call("GET", f"/api/tickets/{ticket_id}", token=fan["access"])
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def records(api: Api, admin: dict[str, Any], subject: str) -> list[str]:
    """The forensic record types about `subject`, oldest first."""
    status, body = await api.call(
        "GET", f"/api/forensics/logs?subject={subject}&limit=1000", token=admin["access"]
    )
    assert status == 200, body
    return [r["type"] for r in body["records"]]


async def job_lines(api: Api, queue: str) -> list[str]:
    """`mhc jobs`, this queue's lines (run beside the app's loop, which serves meanwhile)."""
    done = await asyncio.to_thread(mhc, api, "jobs")
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if f"\t{queue}." in line]


async def test_a_cancellation_is_refunded_after_the_process_that_cancelled_is_gone(
    start: Start,
) -> None:
    queue = "outbox_" + uuid.uuid4().hex[:8]
    # The process that sells and cancels runs no worker: whatever follows its commits is
    # left undone when it stops, as if it died right after each commit.
    first = await start(queue, MHC_JOBS_WORKER="off")
    artist, fan, admin = (
        await make_user(first, "artist"),
        await make_user(first),
        await make_user(first, "admin"),
    )
    event = await paid_event(first, artist, price=1999)
    ticket_id = await buy(first, fan, event["id"])
    status, _ = await first.call("POST", f"/api/live/{event['id']}/cancel", token=artist["access"])
    assert status == 200
    assert (await ticket(first, fan, ticket_id))["status"] == "valid"
    assert await records(first, admin, ticket_id) == []
    pending = await job_lines(first, queue)
    assert any(
        "\tqueued\t" in line and f"{queue}.ticketing.refund_event" in line and event["id"] in line
        for line in pending
    ), pending
    await stop(RUNNERS.pop(id(first.app)))  # the first process goes away

    second = await start(queue)

    async def refunded() -> bool:
        body = await ticket(second, fan, ticket_id)
        return bool(body["status"] == "refunded" and body["close_reason"] == "event_cancelled")

    await until(refunded, 20, "a fresh process to refund the cancelled event's ticket")

    async def recorded() -> list[str]:
        kinds = await records(second, admin, ticket_id)
        return kinds if len(kinds) >= 3 else []

    kinds = await until(recorded, 20, "the sale's and the refund's forensic records")
    assert sorted(kinds) == ["PAYMENT_COMPLETED", "TICKET_ISSUED", "TICKET_REFUNDED"], kinds
    assert "EVENT_CANCELLED" in await records(second, admin, event["id"])

    async def drained() -> bool:
        return not await job_lines(second, queue)

    await until(drained, 20, "the queue to be empty")


async def test_a_refund_that_keeps_failing_is_held_and_retried_by_the_operator(
    start: Start,
) -> None:
    queue = "held_" + uuid.uuid4().hex[:8]
    api = await start(queue, MHC_JOBS_MAX_ATTEMPTS="2", MHC_JOBS_RETRY_SECONDS="0.2")
    artist, fan = await make_user(api, "artist"), await make_user(api)
    event = await paid_event(api, artist, price=999)
    ticket_id = await buy(api, fan, event["id"])
    provider = api.app[RUNTIME].provider
    real = provider.refund

    async def unavailable(*args: Any, **kwargs: Any) -> str:
        raise PaymentError("the payment service is unavailable")

    provider.refund = unavailable  # type: ignore[method-assign]
    try:
        status, _ = await api.call(
            "POST", f"/api/live/{event['id']}/cancel", token=artist["access"]
        )
        assert status == 200

        async def held() -> list[str]:
            return [line for line in await job_lines(api, queue) if "\tfailed\t" in line]

        (line,) = await until(held, 30, "the refund job to be held as failed")
        assert "attempts=" in line and "RefundsIncomplete" in line, line
        assert (await ticket(api, fan, ticket_id))["status"] == "valid"
    finally:
        provider.refund = real  # type: ignore[method-assign]
    job_id = line.split("\t", 1)[0]
    done = await asyncio.to_thread(mhc, api, "jobs", "retry", job_id)
    assert done.returncode == 0 and "queued again" in done.stdout, done

    async def refunded() -> bool:
        return bool((await ticket(api, fan, ticket_id))["status"] == "refunded")

    await until(refunded, 20, "the retried job to refund the ticket")
    again = await asyncio.to_thread(mhc, api, "jobs", "retry", job_id)
    assert again.returncode == 1 and "only a failed job" in again.stderr, again


async def test_mhc_worker_does_the_work_of_servers_that_run_no_worker(start: Start) -> None:
    queue = "apart_" + uuid.uuid4().hex[:8]
    api = await start(queue, MHC_JOBS_WORKER="off")
    artist, fan = await make_user(api, "artist"), await make_user(api)
    event = await paid_event(api, artist, price=500)
    ticket_id = await buy(api, fan, event["id"])
    status, _ = await api.call("POST", f"/api/live/{event['id']}/cancel", token=artist["access"])
    assert status == 200
    env = {**os.environ, **api.app[CONFIG].env}
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "worker",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:

        async def refunded() -> bool:
            return bool((await ticket(api, fan, ticket_id))["status"] == "refunded")

        await until(refunded, 30, "the worker process to refund the cancelled event")
    finally:
        worker.terminate()
        output, _ = await asyncio.wait_for(worker.communicate(), 40)
    assert worker.returncode == 0, output
    assert b"worker running" in output
