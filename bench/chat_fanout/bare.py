"""The baseline: a bare python-socketio server that only broadcasts what it receives.

No auth, no persistence, no limits: `join` enters a room, `send` re-emits the payload to it.
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio
from aiohttp import web


def build() -> web.Application:
    """An aiohttp app with the bare Socket.IO server mounted."""
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)

    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, data["event_id"])
        return {"ok": True}

    async def send(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.emit("message", data, room=data["event_id"])
        return {"ok": True}

    sio.on("join", join)
    sio.on("send", send)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/readyz", healthz)
    return app


def main() -> None:
    """Serve on 127.0.0.1:--port until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(build(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
