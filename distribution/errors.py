"""The package's refusal: a code and a reason; routes give it its HTTP status."""

from __future__ import annotations

HTTP_STATUS = {
    "invalid_field": 400,
    "invalid_iswc": 400,
    "invalid_upload": 400,
    "too_large": 413,
    "unsupported_audio": 415,
    "invalid_audio": 422,
    "invalid_cover": 422,
    "not_found": 404,
    "taken_down": 409,
    "busy": 409,
    "no_schema": 500,
    "invalid_message": 500,
    "codes_exhausted": 503,
}


class DistributionError(Exception):
    """Input or state the distribution pipeline refuses, with a machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status a route answers with."""
        return HTTP_STATUS.get(self.code, 400)
