"""The one error type: it carries its HTTP status and a machine-readable code."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error reported to the client as `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body sent to the client."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    """A 400 for malformed input."""
    return ApiError(400, code, message)


def not_found(what: str) -> ApiError:
    """A 404 naming what was not found."""
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(message: str = "not allowed", code: str = "forbidden") -> ApiError:
    """A 403 for an authenticated caller who may not do this."""
    return ApiError(403, code, message)


def unauthorized(message: str = "authentication required", code: str = "unauthorized") -> ApiError:
    """A 401 for a missing or invalid credential."""
    return ApiError(401, code, message)


def conflict(message: str, code: str = "conflict") -> ApiError:
    """A 409 for a request that clashes with current state."""
    return ApiError(409, code, message)
