"""Verification throughput: ``python -m forensics.benchmark [N] [--jobs J] [--check-form]``.

Builds a signed bundle of N synthetic records (the whole log, with a previous
checkpoint at N/2 and its consistency proof, so every check runs) and times
verify_bundle on it.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forensics.bundle import write_bundle_lines
from forensics.chain import GENESIS_PREV, format_ts
from forensics.checkpoint import sign_checkpoint, verifier_key
from forensics.merkle import MerkleTree, leaf_hashes
from forensics.verify import verify_bundle

ORIGIN = "bench.mhc.invalid/audit"
KEY_NAME = "bench.mhc.invalid"


def synthetic_lines(n: int, prev: bytes = GENESIS_PREV) -> Iterator[tuple[str, bytes]]:
    """Yield (export line, record hash) for records 1..n of a purchase-like log."""
    # Writing the canonical text directly (keys already in order) makes a million
    # records in seconds; the tests check it against chain.record_line.
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    prev_hex = prev.hex()
    for seq in range(1, n + 1):
        ts = format_ts(t0 + timedelta(milliseconds=seq))
        head = (
            f'{{"actor":"user:{seq % 9973:08d}","data":{{"amount":{1000 + seq % 5000},'
            f'"currency":"EUR","event_id":"ev-{seq % 97:04d}"}},'
        )
        tail = (
            f'"prev":"{prev_hex}","seq":{seq},"subject":"ticket:{seq:010d}",'
            f'"ts":"{ts}","type":"ticket.purchased"}}'
        )
        digest = hashlib.sha256((head + tail).encode()).digest()
        prev_hex = digest.hex()
        yield f'{head}"hash":"{prev_hex}",{tail}', digest


def synthetic_rows(
    n: int, first_seq: int = 1, prev: bytes = GENESIS_PREV
) -> Iterator[tuple[int, datetime, str, str, str, dict[str, object], bytes, bytes]]:
    """Yield forensic_log rows (seq, ts, type, actor, subject, data, prev, hash) of the
    same purchase-like records, chained from prev, for bulk loading a big log."""
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for seq in range(first_seq, first_seq + n):
        ts = t0 + timedelta(milliseconds=seq)
        actor, subject = f"user:{seq % 9973:08d}", f"ticket:{seq:010d}"
        amount, event = 1000 + seq % 5000, f"ev-{seq % 97:04d}"
        text = (
            f'{{"actor":"{actor}","data":{{"amount":{amount},"currency":"EUR",'
            f'"event_id":"{event}"}},"prev":"{prev.hex()}","seq":{seq},'
            f'"subject":"{subject}","ts":"{format_ts(ts)}","type":"ticket.purchased"}}'
        )
        digest = hashlib.sha256(text.encode()).digest()
        data: dict[str, object] = {"amount": amount, "currency": "EUR", "event_id": event}
        yield (seq, ts, "ticket.purchased", actor, subject, data, prev, digest)
        prev = digest


def build_bundle(directory: Path, n: int) -> Path:
    """Write a signed bundle of n synthetic records into directory."""
    key = Ed25519PrivateKey.generate()
    lines, hashes = zip(*synthetic_lines(n), strict=True)
    tree = MerkleTree(leaf_hashes(hashes))
    half = max(1, n // 2)
    return write_bundle_lines(
        directory,
        lines,
        [],
        sign_checkpoint(ORIGIN, n, tree.root(), KEY_NAME, key),
        verifier_key(KEY_NAME, key),
        sign_checkpoint(ORIGIN, half, tree.root(half), KEY_NAME, key),
        tree.consistency_proof(half),
        ORIGIN,
    )


@dataclass(frozen=True)
class Result:
    """One timed verification."""

    records: int
    seconds: float
    cpu_seconds: float
    ok: bool

    @property
    def rate(self) -> float:
        """Return records verified per wall-clock second."""
        return self.records / self.seconds


def benchmark_verify(n: int = 1_000_000, jobs: int = 0, check_form: bool = False) -> Result:
    """Build a bundle of n records in a temporary directory and time its verification."""
    with tempfile.TemporaryDirectory(prefix="mhc-bench-") as tmp:
        directory = build_bundle(Path(tmp) / "bundle", n)
        start, cpu = time.perf_counter(), time.process_time()
        report = verify_bundle(directory, jobs=jobs, check_form=check_form)
        # CPU time counts this process only: with jobs=1 it is all the work, and it
        # is what to compare on a busy machine.
        return Result(n, time.perf_counter() - start, time.process_time() - cpu, report.ok)


def main() -> None:
    """Print the verification rate."""
    parser = argparse.ArgumentParser(prog="python -m forensics.benchmark")
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--jobs", type=int, default=0, help="0: auto")
    parser.add_argument("--check-form", action="store_true", help="re-encode every line")
    args = parser.parse_args()
    r = benchmark_verify(args.n, args.jobs, args.check_form)
    status = "verified" if r.ok else "FAILED"
    print(
        f"{r.records} records {status} in {r.seconds:.2f} s ({r.rate:,.0f} records/s), "
        f"{r.cpu_seconds:.2f} s CPU in this process"
    )


if __name__ == "__main__":
    main()
