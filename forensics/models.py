"""Request, query and reply bodies of the forensic routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field

from server.api import Body, Query, Reply
from server.validate import Clean, Instant, IsoTime, JsonInt, QueryInt

MAX_PAGE = 1000  # records per page of GET /api/forensics/logs
MAX_SEQ = 2**62

Seq = Annotated[int, Field(ge=1, le=MAX_SEQ), JsonInt]
QuerySeq = Annotated[int, Field(ge=1, le=MAX_SEQ), QueryInt]
Filter = Annotated[str, Clean(max_len=200)]


class LogsQuery(Query):
    """Filters and paging of the log."""

    type: Filter | None = None
    actor: Filter | None = None
    subject: Filter | None = None
    since: Instant | None = None
    until: Instant | None = None
    after: Annotated[
        int, Field(ge=0, le=MAX_SEQ, description="the last seq seen (next_after)"), QueryInt
    ] = 0
    limit: Annotated[
        int, Field(ge=1, le=MAX_PAGE, description=f"records per page, at most {MAX_PAGE}"), QueryInt
    ] = 100


class RangeIn(Body):
    """A range of sequence numbers; both ends optional."""

    first: Seq | None = None
    last: Seq | None = None


class InclusionQuery(Query):
    """A record and the tree size to prove it in (default: the whole log)."""

    seq: QuerySeq
    size: QuerySeq | None = None


class ConsistencyQuery(Query):
    """Two tree sizes (default second: the whole log)."""

    size1: QuerySeq
    size2: QuerySeq | None = None


class EraseIn(Body):
    """The subject whose personal data is erased."""

    subject: Filter


class Record(Reply):
    """A log record with its chain hashes."""

    seq: int
    ts: IsoTime
    type: str
    actor: str | None
    subject: str | None
    data: Any
    prev: str
    hash: str


class Records(Reply):
    """A page of records; `next_after` is the `after` of the next page (null at the end)."""

    records: list[Record]
    next_after: int | None


class Verification(Reply):
    """The chain check of a range."""

    ok: bool
    first: int
    last: int
    checked: int
    first_bad_seq: int | None
    reason: str | None


class Checkpoint(Reply):
    """A signed checkpoint (a signed note over the tree size and root)."""

    id: int
    tree_size: int
    root: str
    note: str
    created_at: IsoTime
    # When the configured RFC 3161 TSA vouched for the note (None: no TSA, or it failed).
    timestamped_at: IsoTime | None = None


class LatestCheckpoint(Reply):
    """The newest signed checkpoint."""

    tree_size: int
    root: str
    note: str


class InclusionProof(Reply):
    """An RFC 6962 inclusion proof."""

    seq: int
    tree_size: int
    leaf_index: int
    record_hash: str
    root: str
    proof: list[str]


class ConsistencyProof(Reply):
    """An RFC 6962 consistency proof."""

    size1: int
    size2: int
    root1: str
    root2: str
    proof: list[str]


class Export(Reply):
    """A stored bundle."""

    id: uuid.UUID
    first: int
    last: int
    bundle: str = Field(description="the bundle's file name")
    sha256: str
    checkpoint: Checkpoint
    previous_tree_size: int | None


class Check(Reply):
    """One check of the offline verifier."""

    name: str
    status: str
    detail: str


class ExportVerification(Reply):
    """The offline verifier's report on a stored bundle."""

    ok: bool
    first_bad_seq: int | None
    checks: list[Check]
    report: str


class Erasure(Reply):
    """What an erasure destroyed."""

    subject: str
    erased_blobs: int
