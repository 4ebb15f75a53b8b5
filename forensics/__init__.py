"""Forensic audit trail: hash-chained records, Merkle checkpoints and export bundles."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web


def setup(app: "web.Application") -> None:
    """Register the audit trail on the app (imported lazily: the offline verifier needs no app)."""
    from forensics.plugin import setup as _setup

    _setup(app)
