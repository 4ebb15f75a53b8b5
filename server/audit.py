"""The core's door to the forensic log: one call per state change that matters.

The forensics package installs the sink at setup; until then (or in a process without it)
calls are no-ops, so core code never depends on whether the audit trail is configured.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

AuditSink = Callable[[str, str | None, str | None, dict[str, Any]], Awaitable[None]]
AUDIT_SINK: web.AppKey[AuditSink] = web.AppKey("audit_sink")


async def log(app: web.Application, event_type: str, *, actor: object = None,
              subject: object = None, **data: Any) -> None:
    """Append an event to the forensic log (ids only: never personal data)."""
    sink = app.get(AUDIT_SINK)
    if sink is not None:
        await sink(event_type, None if actor is None else str(actor),
                   None if subject is None else str(subject), data)
