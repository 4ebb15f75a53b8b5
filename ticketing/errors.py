"""Ticketing's domain errors: what the rules refuse, named by a code the routes map to HTTP."""

from __future__ import annotations


class OrderError(Exception):
    """A purchase, payment or refund refused by the rules or by the payment provider."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


# The codes a provider failure is reported with (the rest are refusals of the rules).
PROVIDER_ERROR = "payment_provider_error"
