"""Royalty reports from the stores: parsing (DSR flat files, CSV) and ingestion into the
ledger, monthly and by hand."""

from __future__ import annotations

from distribution.royalties.ingest import IngestResult, ingest_bytes, ingest_file

__all__ = ["IngestResult", "ingest_bytes", "ingest_file"]
