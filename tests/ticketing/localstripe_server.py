"""Run localstripe on a loopback port for the tests: `python -m tests.ticketing.localstripe_server PORT`.

Two additions to the stock server, both test-side only:
- its store stays in memory (stock localstripe pickles every write to a fixed /tmp file);
- a minimal Dispute resource (localstripe has none): `POST /_config/disputes` creates one for a
  charge, `POST /_config/disputes/{id}/close` sets its final status, and `GET /v1/disputes/{id}`
  returns it the way the Stripe API does, so the app's re-fetch on `charge.dispute.closed` works.
"""

from __future__ import annotations

import secrets
import sys
import time
from typing import Any

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None

_disputes: dict[str, dict[str, Any]] = {}


async def create_dispute(request: web.Request) -> web.Response:
    body = await request.json()
    charge = resources.Charge._api_retrieve(body["charge"])
    dispute = {
        "id": "dp_" + secrets.token_hex(7),
        "object": "dispute",
        "amount": charge.amount,
        "currency": charge.currency,
        "charge": charge.id,
        "payment_intent": charge.payment_intent,
        "status": "needs_response",
        "reason": "fraudulent",
        "created": int(time.time()),
        "livemode": False,
    }
    _disputes[dispute["id"]] = dispute
    return web.json_response(dispute)


async def close_dispute(request: web.Request) -> web.Response:
    dispute = _disputes[request.match_info["id"]]
    dispute["status"] = (await request.json())["status"]
    return web.json_response(dispute)


async def get_dispute(request: web.Request) -> web.Response:
    dispute = _disputes.get(request.match_info["id"])
    if dispute is None:
        return web.json_response(
            {"error": {"type": "invalid_request_error", "message": "No such dispute"}}, status=404
        )
    return web.json_response(dispute)


def main() -> None:
    port = int(sys.argv[1])
    server.app.router.add_post("/_config/disputes", create_dispute)
    server.app.router.add_post("/_config/disputes/{id}/close", close_dispute)
    server.app.router.add_get("/v1/disputes/{id}", get_dispute)
    web.run_app(server.app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
