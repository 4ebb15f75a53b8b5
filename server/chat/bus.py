"""Control messages between chat processes over Redis pub/sub (kicks, per-user notices).

Socket.IO's own queue carries room broadcasts; these messages instead act on a user's
connections wherever they are, which only the process holding them can do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class ControlBus:
    """Publish control messages to every chat process, this one included."""

    def __init__(self, redis: Redis, channel: str, handler: Handler) -> None:
        self._redis = redis
        self._channel = channel
        self._handler = handler
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None

    async def _subscribe(self) -> PubSub:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        # Reading the confirmation means Redis has registered us: nothing published after
        # start() returns can be missed.
        for _ in range(10):
            msg = await pubsub.get_message(timeout=1.0)
            if msg is not None and msg["type"] == "subscribe":
                return pubsub
        raise RedisTimeoutError(f"no confirmation of SUBSCRIBE {self._channel}")

    async def start(self) -> None:
        """Subscribe, then listen in the background."""
        self._pubsub = await self._subscribe()
        self._task = asyncio.create_task(self._listen(), name="chat-control-bus")

    async def publish(self, message: dict[str, Any]) -> None:
        """Send a message to all processes."""
        await self._redis.publish(self._channel, json.dumps(message))

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                if self._pubsub is None:
                    self._pubsub = await self._subscribe()
                    delay = 0.5
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if msg is None or msg["type"] != "message":
                    continue
                await self._handler(json.loads(msg["data"]))
            except asyncio.CancelledError:
                raise
            except (OSError, RedisConnectionError, RedisTimeoutError) as exc:
                # Lost Redis: resubscribe with backoff; kicks sent meanwhile are also
                # enforced by the ban check on every message and every join.
                log.warning("chat control bus lost Redis (%s); resubscribing", exc)
                self._pubsub = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception:
                log.exception("chat control message failed")

    async def close(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
