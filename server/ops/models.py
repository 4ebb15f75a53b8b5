"""Reply bodies of the operator routes."""

from __future__ import annotations

from server.api import Reply


class Health(Reply):
    """The process answers."""

    status: str


class Readiness(Reply):
    """Each dependency's state; `ok` or the error's type."""

    status: str
    checks: dict[str, str]
