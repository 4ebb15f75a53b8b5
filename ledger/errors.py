"""The ledger's domain errors: what its rules refuse, named by a code the routes map to HTTP."""

from __future__ import annotations


class LedgerError(Exception):
    """A posting, payout or query refused by the ledger's rules; nothing was written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# How each code is answered over HTTP; codes not listed are 409 conflicts.
HTTP_STATUS = {
    "invalid_amount": 400,
    "invalid_currency": 400,
    "invalid_posting": 400,
    "invalid_month": 400,
    "invalid_iban": 400,
    "invalid_address": 400,
    "below_minimum": 400,
    "unknown_method": 400,
    "unsupported_currency": 400,
    "invalid_idempotency_key": 400,
    "unknown_currency": 404,
    "not_found": 404,
    "forbidden": 403,
}
