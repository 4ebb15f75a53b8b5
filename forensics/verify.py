"""Offline verifier for export bundles: ``python -m forensics.verify BUNDLE [--key FILE]``.

It needs only the bundle (see forensics.bundle for the format), no database or
server. Each check prints one line; the exit status is 0 when every check holds, 1
when any fails and 2 on a usage error. Pass ``--key`` with a vkey obtained apart from
the bundle: otherwise the bundle vouches for its own key and proves only that it is
internally consistent. Records under the signed root are checked as the signed bytes,
others (and all with ``--check-form``) are parsed and re-encoded: forensics/ENCODING.md.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

from forensics import bundle as bf
from forensics import tiles
from forensics import timestamp as tsp
from forensics.chain import GENESIS_PREV, ChainBreak, exact_lines, loads_strict, verify_lines
from forensics.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    parse_vkey,
    verify_checkpoint,
)
from forensics.merkle import (
    MerkleTree,
    ProofError,
    consistency_ranges,
    leaf_hashes,
    verify_consistency,
)

OK, FAIL, SKIP = "OK", "FAIL", "SKIP"
# A bundle verifies only if each of these ran and passed, so a check skipped by
# mistake can never turn into a pass.
ESSENTIAL = ("manifest", "key", "checkpoint", "records", "range", "root")
# Below this many bytes of records, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 32 << 20


@dataclass(frozen=True)
class Check:
    """The outcome of one check: OK, FAIL or SKIP, and why."""

    name: str
    status: str
    detail: str


@dataclass
class Report:
    """Every check made on a bundle, and the first record that failed if any."""

    bundle: str
    checks: list[Check] = field(default_factory=list)
    first_bad_seq: int | None = None

    def add(self, name: str, status: str, detail: str) -> None:
        """Record the outcome of a check."""
        self.checks.append(Check(name, status, detail))

    def status(self, name: str) -> str | None:
        """Return the status of a named check, if it was made."""
        return next((c.status for c in self.checks if c.name == name), None)

    @property
    def ok(self) -> bool:
        """Return whether the bundle verified."""
        return all(c.status != FAIL for c in self.checks) and all(
            self.status(n) == OK for n in ESSENTIAL
        )

    def render(self) -> str:
        """Return the report as text, one line per check."""
        lines = [f"bundle {self.bundle}"]
        lines += [f"  {c.status:<4}  {c.name:<11}  {c.detail}" for c in self.checks]
        if self.ok:
            lines.append("result: VERIFIED")
        else:
            bad = "" if self.first_bad_seq is None else f" (first bad seq {self.first_bad_seq})"
            lines.append(f"result: FAILED{bad}")
        return "\n".join(lines) + "\n"


def verify_bundle(
    path: str | Path,
    key: VerifierKey | None = None,
    jobs: int = 0,
    log_url: str | None = None,
    tsa_certs: bytes | None = None,
    check_form: bool = False,
) -> Report:
    """Verify a bundle directory or .tar.gz; key, if given, replaces the bundled key.

    jobs is the number of processes hashing records; 0 picks one per CPU for big
    bundles and one otherwise. With log_url (the log's public /log/ prefix), the bundle's
    checkpoint is also proved consistent with the log's published checkpoint, from tiles.
    tsa_certs (PEM), if given, replaces the bundled TSA certificates. With check_form,
    every record line is re-encoded even when the signed root already vouches for its bytes.
    """
    report = Report(str(path))
    try:
        with bf.open_bundle(path) as directory:
            _verify_directory(directory, key, jobs, report, check_form)
            _check_timestamp(directory, tsa_certs, report)
            if log_url is not None:
                _check_log(directory, key or _bundled_key(directory), log_url, report)
    except (bf.BundleError, OSError) as e:
        report.add("bundle", FAIL, str(e))
    return report


def _bundled_key(d: Path) -> VerifierKey | None:
    try:
        return parse_vkey((d / bf.VKEY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _check_timestamp(d: Path, pinned: bytes | None, report: Report) -> None:
    """Check the RFC 3161 timestamp over the checkpoint: signature, imprint and time."""
    has_tsr, has_certs = (d / bf.TIMESTAMP).exists(), (d / bf.TSA_CERTS).exists()
    if not has_tsr and not has_certs:
        report.add("timestamp", SKIP, "no RFC 3161 timestamp in the bundle")
        return
    if not has_tsr or (pinned is None and not has_certs):
        report.add("timestamp", FAIL, f"{bf.TIMESTAMP} and {bf.TSA_CERTS} must come together")
        return
    try:
        pem = pinned if pinned is not None else (d / bf.TSA_CERTS).read_bytes()
        stamp = tsp.verify((d / bf.TIMESTAMP).read_bytes(), (d / bf.CHECKPOINT).read_bytes(), pem)
    except (OSError, tsp.TimestampError) as e:
        report.add("timestamp", FAIL, str(e))
        return
    now = datetime.now(UTC)
    if stamp.gen_time > now + timedelta(minutes=5):
        report.add("timestamp", FAIL, f"timestamp time {stamp.gen_time} is in the future")
        return
    whose = "pinned" if pinned is not None else "bundled (pass --tsa-certs to pin them)"
    report.add(
        "timestamp",
        OK,
        f"checkpoint existed at {stamp.gen_time.isoformat()} per the TSA; {whose} certificates",
    )


def _fetch(url: str) -> bytes | None:
    """GET a URL; None on 404."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return bytes(resp.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def fetch_tiles(log_url: str, size: int, ids: Sequence[tiles.TileId]) -> dict[tiles.TileId, bytes]:
    """Fetch the tiles of the tree at size from a tlog-tiles prefix (partial tiles fall back
    to the full tile, as the spec allows)."""
    base = log_url.rstrip("/")
    out: dict[tiles.TileId, bytes] = {}
    for level, idx in ids:
        width = min(tiles.WIDTH, tiles.level_count(size, level) - idx * tiles.WIDTH)
        data = _fetch(f"{base}/{tiles.tile_path(level, idx, width)}")
        if data is None and width < tiles.WIDTH:
            data = _fetch(f"{base}/{tiles.tile_path(level, idx)}")
        if data is None or len(data) < width * 32:
            raise tiles.TileError(f"tile {tiles.tile_path(level, idx, width)} is missing or short")
        out[(level, idx)] = data[: width * 32]
    return out


def _check_log(d: Path, key: VerifierKey | None, log_url: str, report: Report) -> None:
    """Prove the bundle's checkpoint consistent with the log's published one, from tiles."""
    if key is None:
        report.add("log", SKIP, "needs a verifier key")
        return
    try:
        head = _open_checkpoint(d, bf.CHECKPOINT, key)
        note = _fetch(log_url.rstrip("/") + "/checkpoint")
        if note is None:
            raise CheckpointError(f"{log_url} publishes no checkpoint")
        live = verify_checkpoint(note.decode("utf-8"), key.name, key.public_key)
        if live.origin != head.origin:
            raise ProofError(f"the log at {log_url} is {live.origin!r}, not {head.origin!r}")
        if live.size < head.size:
            raise ProofError(f"the log's checkpoint (size {live.size}) predates the bundle's")
        proof: list[bytes] = []
        if live.size > head.size:
            ranges = consistency_ranges(head.size, live.size)
            fetched = fetch_tiles(log_url, live.size, tiles.tiles_needed(ranges))
            proof = tiles.range_hashes(ranges, fetched)
        verify_consistency(head.size, live.size, proof, head.root, live.root)
    except (CheckpointError, OSError, UnicodeDecodeError, ValueError) as e:
        report.add("log", FAIL, f"{log_url}: {e}")
        return
    report.add(
        "log", OK, f"the log's checkpoint at size {live.size} extends the bundle's (from tiles)"
    )


def _verify_directory(
    d: Path, key: VerifierKey | None, jobs: int, report: Report, check_form: bool
) -> None:
    """Run every check on an unpacked bundle."""
    # The records file is nearly all of a bundle's bytes: its digest is taken in a thread
    # (hashlib lets go of the GIL) while the chain is checked, not before it.
    with ThreadPoolExecutor(1) as background:
        records_digest = background.submit(bf.file_digest, d / bf.RECORDS)
        _verify_contents(d, key, jobs, report, records_digest, check_form)


def _verify_contents(
    d: Path,
    key: VerifierKey | None,
    jobs: int,
    report: Report,
    records_digest: Future[str],
    check_form: bool,
) -> None:
    manifest_checks = Report(report.bundle)
    manifest = _check_manifest_form(d, manifest_checks)
    used_key = _check_key(d, key, report)
    head = _check_checkpoint(d, used_key, manifest, report)
    # Where a signed root covers the records, their exact bytes are checked against it
    # (see chain.exact_lines); only a bundle that fails that, or has no signed root to
    # check against, or check_form, has every line parsed and re-encoded, which also
    # names the first bad record.
    signed = head is not None and not check_form
    if not (signed and _check_tree(d, jobs, head, manifest, report, exact=True)):
        _check_tree(d, jobs, head, manifest, report, exact=False)
    _check_consistency(d, used_key, head, report)
    if manifest is not None:
        _check_manifest_files(d, manifest, records_digest, manifest_checks)
    report.checks[:0] = manifest_checks.checks  # the manifest's line comes first


def _check_manifest_form(d: Path, report: Report) -> dict[str, Any] | None:
    """Check the manifest's form; return it if well formed."""
    try:
        # Duplicate members are refused: readers that keep the first would see another range.
        manifest = loads_strict((d / bf.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        report.add("manifest", FAIL, f"cannot read {bf.MANIFEST}: {e}")
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    rng = manifest.get("range") if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != bf.FORMAT
        or not isinstance(manifest.get("origin"), str)
        or not isinstance(files, dict)
        or not isinstance(rng, dict)
        or not all(type(rng.get(k)) is int for k in ("first", "last"))
    ):
        report.add("manifest", FAIL, f"not a {bf.FORMAT} manifest with origin, range and files")
        return None
    return manifest


def _check_manifest_files(
    d: Path, manifest: dict[str, Any], records_digest: Future[str], report: Report
) -> None:
    """Check the manifest's file list and digests."""
    files = manifest["files"]
    known = set(bf.REQUIRED) | set(bf.OPTIONAL)
    present = {p.name for p in d.iterdir()} - {bf.MANIFEST}
    problems = [f"{n} is not listed" for n in sorted(bf.REQUIRED) if n not in files]
    problems += [f"unknown file {n} listed" for n in sorted(set(files) - known)]
    problems += [f"unlisted file {n}" for n in sorted(present - set(files))]
    if (bf.PREVIOUS in files) != (bf.PROOF in files):
        problems.append(f"{bf.PREVIOUS} and {bf.PROOF} must come together")
    for name in sorted(set(files) & known):
        if name not in present:
            problems.append(f"{name} is missing")
            continue
        digest = records_digest.result() if name == bf.RECORDS else bf.file_digest(d / name)
        if digest != files[name]:
            problems.append(f"{name} does not match its SHA-256 digest")
    if problems:
        report.add("manifest", FAIL, "; ".join(problems))
    else:
        report.add("manifest", OK, f"{len(files)} files match their SHA-256 digests")


def _check_key(d: Path, key: VerifierKey | None, report: Report) -> VerifierKey | None:
    """Choose the verifier key: the given one, else the bundled one."""
    try:
        bundled: VerifierKey | None = parse_vkey((d / bf.VKEY).read_text(encoding="utf-8"))
        problem = ""
    except (OSError, ValueError) as e:
        bundled, problem = None, str(e)
    if key is not None:
        same = bundled is not None and bundled.encode() == key.encode()
        relation = "matches the bundled key" if same else "differs from the bundled key"
        report.add("key", OK, f"given key {key.name}+{key.key_id.hex()} ({relation})")
        return key
    if bundled is None:
        report.add("key", FAIL, f"cannot read {bf.VKEY}: {problem}")
        return None
    report.add(
        "key",
        OK,
        f"bundled key {bundled.name}+{bundled.key_id.hex()} "
        "(not independently obtained: pass --key to pin it)",
    )
    return bundled


def _open_checkpoint(d: Path, name: str, key: VerifierKey) -> Checkpoint:
    """Read and verify one signed checkpoint file of the bundle."""
    try:
        text = (d / name).read_text(encoding="utf-8")
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {name}: {e}") from None
    return verify_checkpoint(text, key.name, key.public_key)


def _check_checkpoint(
    d: Path, key: VerifierKey | None, manifest: dict[str, Any] | None, report: Report
) -> Checkpoint | None:
    """Verify the checkpoint's signature; return what it states."""
    if key is None:
        report.add("checkpoint", SKIP, "needs a verifier key")
        return None
    try:
        head = _open_checkpoint(d, bf.CHECKPOINT, key)
    except CheckpointError as e:
        report.add("checkpoint", FAIL, str(e))
        return None
    if manifest is not None and manifest["origin"] != head.origin:
        report.add("checkpoint", FAIL, f"origin {head.origin!r} differs from the manifest's")
        return None
    report.add("checkpoint", OK, f"signed by {key.name}: {head.origin} at size {head.size}")
    return head


def _check_tree(
    d: Path,
    jobs: int,
    head: Checkpoint | None,
    manifest: dict[str, Any] | None,
    report: Report,
    exact: bool,
) -> bool:
    """Check the records, their range and the root over them; report them unless exact
    is set and any fails. Return whether all three held."""
    checks = Report(report.bundle)
    tree = MerkleTree()
    prefix_and_count = _check_records(d, jobs, checks, tree, exact)
    if prefix_and_count is None:
        checks.add("range", SKIP, "needs records that verify")
        checks.add("root", SKIP, "needs records that verify")
    else:
        prefix, count = prefix_and_count
        if _check_range(len(prefix) + 1, len(prefix) + count, head, manifest, checks):
            _check_root(tree, head, checks)
        else:
            checks.add("root", SKIP, "needs records 1..size of a verified checkpoint")
    held = all(checks.status(name) == OK for name in ("records", "range", "root"))
    if held or not exact:
        report.checks += checks.checks
        report.first_bad_seq = checks.first_bad_seq
    return held


def _check_records(
    d: Path, jobs: int, report: Report, tree: MerkleTree, exact: bool
) -> tuple[list[bytes], int] | None:
    """Check the record chain from the last prefix hash; return prefix and record count.

    The Merkle tree over prefix and records grows in `tree` as spans verify. With exact,
    lines are checked as the signed bytes (`_hash_lines`), which only the root can confirm.
    """
    try:
        prefix = bf.parse_hashes((d / bf.PREFIX).read_text(encoding="ascii"))
    except (OSError, ValueError) as e:
        report.add("records", FAIL, f"{bf.PREFIX}: {e}")
        return None
    first = len(prefix) + 1
    try:
        count, brk = _chain(
            d / bf.RECORDS, prefix[-1] if prefix else GENESIS_PREV, first, jobs, prefix, tree, exact
        )
    except OSError as e:
        report.add("records", FAIL, f"{bf.RECORDS}: {e}")
        return None
    if brk is not None:
        report.first_bad_seq = brk.seq
        report.add("records", FAIL, str(brk))
        return None
    if not count:
        report.add("records", FAIL, f"{bf.RECORDS} holds no records")
        return None
    form = "byte for byte under the signed root" if exact else "each line canonical"
    report.add(
        "records", OK, f"seq {first}..{first + count - 1}: order, links and hashes hold ({form})"
    )
    return prefix, count


def _check_range(
    first: int,
    last: int,
    head: Checkpoint | None,
    manifest: dict[str, Any] | None,
    report: Report,
) -> bool:
    """Check the records end at the checkpoint's size and match the manifest's range."""
    problems = []
    if head is not None and head.size != last:
        problems.append(f"records end at seq {last} but the checkpoint is at size {head.size}")
        if last < head.size:
            report.first_bad_seq = last + 1
    if manifest is not None and (manifest["range"]["first"], manifest["range"]["last"]) != (
        first,
        last,
    ):
        problems.append(f"manifest range differs from records {first}..{last}")
    if problems:
        report.add("range", FAIL, "; ".join(problems))
        return False
    if head is None:
        report.add("range", SKIP, "needs a verified checkpoint")
        return False
    report.add("range", OK, f"records {first}..{last} with {first - 1} prefix hashes")
    return True


def _check_root(tree: MerkleTree, head: Checkpoint | None, report: Report) -> None:
    """Compare the tree over all record hashes with the signed root."""
    assert head is not None  # _check_range passes only with a checkpoint
    root = tree.root()
    if root != head.root:
        report.add(
            "root",
            FAIL,
            f"recomputed root {root.hex()} differs from the signed root {head.root.hex()}",
        )
    else:
        report.add("root", OK, f"recomputed root {root.hex()} is the signed root")


def _check_consistency(
    d: Path, key: VerifierKey | None, head: Checkpoint | None, report: Report
) -> None:
    """Check the signed consistency proof from the previous checkpoint, if any."""
    has_previous, has_proof = (d / bf.PREVIOUS).exists(), (d / bf.PROOF).exists()
    if not has_previous and not has_proof:
        report.add("consistency", SKIP, "no previous checkpoint in the bundle")
        return
    if has_previous != has_proof:
        report.add("consistency", FAIL, f"{bf.PREVIOUS} and {bf.PROOF} must come together")
        return
    if key is None or head is None:
        report.add("consistency", SKIP, "needs a verified checkpoint")
        return
    try:
        previous = _open_checkpoint(d, bf.PREVIOUS, key)
        proof = bf.parse_hashes((d / bf.PROOF).read_text(encoding="ascii"))
        if previous.origin != head.origin:
            raise ProofError(f"previous checkpoint is for {previous.origin!r}")
        verify_consistency(previous.size, head.size, proof, previous.root, head.root)
    except CheckpointError as e:
        report.add("consistency", FAIL, f"previous checkpoint: {e}")
    except (OSError, ValueError) as e:  # ProofError is a ValueError
        report.add("consistency", FAIL, f"{bf.PROOF}: {e}")
    else:
        report.add(
            "consistency",
            OK,
            f"size {head.size} extends the previous checkpoint at size {previous.size}",
        )


def _chain(
    path: Path,
    expected_prev: bytes,
    first_seq: int,
    jobs: int,
    prefix: Sequence[bytes],
    tree: MerkleTree,
    exact: bool,
) -> tuple[int, ChainBreak | None]:
    """Verify records.jsonl as a chain, across worker processes when it is big; grow the
    Merkle tree over prefix and records alongside; return how many records verified."""
    size = path.stat().st_size
    if jobs <= 0:
        jobs = min(os.cpu_count() or 1, 8) if size >= PARALLEL_MIN_BYTES else 1
    if jobs == 1 or size == 0:
        tree.extend_packed(_leaves(prefix))
        alone: list[bytes] = []
        brk = None
        with path.open("rb") as f:
            for lines in _line_chunks(f, 0, size):
                prev = alone[-1] if alone else expected_prev
                part, brk = _hash_lines(lines, prev, first_seq + len(alone), exact)
                alone += part
                if brk is not None:
                    break
        tree.extend_packed(_leaves(alone))
        return len(alone), brk
    # More spans than workers: the tree grows here from finished spans while later ones
    # are still being hashed, and the leaf hashes are made in the workers. A span after the
    # first takes its first record's seq and prev on trust; they are checked here against
    # the real link, so nobody reads the file once more just to count lines.
    spans = _spans(path, jobs * 4)
    count, last = 0, b""
    with ProcessPoolExecutor(jobs) as pool:
        futures = [
            pool.submit(
                _verify_span,
                str(path),
                start,
                end,
                (first_seq, expected_prev) if i == 0 else None,
                exact,
            )
            for i, (start, end) in enumerate(spans)
        ]
        tree.extend_packed(_leaves(prefix))
        for future, (start, _) in zip(futures, spans, strict=True):
            verified, tail, leaves, brk, head = future.result()
            if count and head != (first_seq + count, last):
                # What the worker took on trust is wrong: check that line here against
                # the real link, in the usual order.
                with path.open("rb") as f:
                    f.seek(start)
                    _, brk = verify_lines([f.readline()], last, first_seq + count)
                brk = brk or ChainBreak(first_seq + count, "prev does not match")
            elif verified:
                count += verified
                last = tail
                tree.extend_packed(leaves)
            if brk is not None:
                pool.shutdown(wait=False, cancel_futures=True)
                return count, brk
    return count, None


def _leaves(hashes: Sequence[bytes]) -> bytes:
    """Return the packed Merkle leaf hashes of record hashes."""
    return b"".join(leaf_hashes(hashes))


def _spans(path: Path, parts: int) -> list[tuple[int, int]]:
    """Split a file at line ends into about parts spans: (start, end) byte offsets."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        size, cuts = len(mm), [0]
        for k in range(1, parts):
            nl = mm.find(b"\n", max(size * k // parts, cuts[-1]))
            if nl < 0:
                break
            cuts.append(nl + 1)
        cuts.append(size)
    return [(start, end) for start, end in pairwise(cuts) if end > start]


def _hash_lines(
    lines: Sequence[bytes], prev: bytes, seq: int, exact: bool
) -> tuple[list[bytes], ChainBreak | None]:
    """Check lines as the chain's next records from (prev, seq); return their hashes and
    the first break. With exact, lines are taken as bytes for the root to confirm, and
    only a line that is not the exact successor (a string with an escaped quote, or a bad
    line) is parsed; without it, every line is parsed and re-encoded."""
    if not exact:
        return verify_lines(lines, prev, seq)
    hashes: list[bytes] = []
    rest = iter(lines)
    while True:
        part, other = exact_lines(rest, hashes[-1] if hashes else prev, seq + len(hashes))
        hashes += part
        if other is None:
            return hashes, None
        one, brk = verify_lines([other], hashes[-1] if hashes else prev, seq + len(hashes))
        if brk is not None:
            return hashes, brk
        hashes += one


def _verify_span(
    path: str, start: int, end: int, head: tuple[int, bytes] | None, exact: bool
) -> tuple[int, bytes, bytes, ChainBreak | None, tuple[int, bytes] | None]:
    """Verify one span of records.jsonl from `head` (first seq, expected prev); without
    it, from its first record's own seq and prev, which it returns for checking. Returns
    how many records verified, the last one's hash, and their packed Merkle leaves (one
    buffer crosses the process boundary, not a million objects)."""
    hashes: list[bytes] = []
    brk = None
    with open(path, "rb") as f:
        for lines in _line_chunks(f, start, end):
            if head is None:
                try:
                    first = json.loads(lines[0])
                    if type(first["seq"]) is not int:
                        raise TypeError("seq is not an integer")
                    head = (first["seq"], bytes.fromhex(first["prev"]))
                except (ValueError, KeyError, TypeError, RecursionError):
                    return 0, b"", b"", None, None  # the caller checks this line itself
            if not hashes:
                seq, prev = head
            part, brk = _hash_lines(lines, prev, seq, exact)
            hashes += part
            if brk is not None:
                break
            seq += len(part)
            prev = part[-1] if part else prev
    return len(hashes), hashes[-1] if hashes else b"", _leaves(hashes), brk, head


def _line_chunks(f: BinaryIO, start: int, end: int, size: int = 4 << 20) -> Iterator[list[bytes]]:
    """The lines of f from byte start to end (both at line starts), a few MB at a time: a
    span read in one piece would fault in its size twice over in fresh memory."""
    f.seek(start)
    left, carry = end - start, b""
    while left > 0:
        buf = f.read(min(size, left))
        if not buf:
            break
        left -= len(buf)
        lines = (carry + buf).split(b"\n")
        carry = lines.pop()
        if lines:
            yield lines
    if carry:
        yield [carry]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verifier command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m forensics.verify",
        description="Verify a forensic export bundle offline.",
    )
    parser.add_argument("bundle", type=Path, help="bundle directory or .tar.gz")
    parser.add_argument(
        "--key", type=Path, help="verifier key (vkey) obtained apart from the bundle"
    )
    parser.add_argument("--jobs", type=int, default=0, help="processes hashing records (0: auto)")
    parser.add_argument(
        "--log-url",
        help="the log's public prefix (https://HOST/log): prove the bundle is in its checkpoint",
    )
    parser.add_argument(
        "--tsa-certs", type=Path, help="the TSA's PEM certificates, obtained apart from the bundle"
    )
    parser.add_argument(
        "--check-form",
        action="store_true",
        help="re-encode every record line, even those the signed root vouches for",
    )
    args = parser.parse_args(argv)
    if not args.bundle.exists():
        parser.error(f"no such bundle: {args.bundle}")
    key = None
    if args.key is not None:
        try:
            key = parse_vkey(args.key.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            parser.error(f"cannot use --key {args.key}: {e}")
    tsa_certs = None
    if args.tsa_certs is not None:
        try:
            tsa_certs = args.tsa_certs.read_bytes()
        except OSError as e:
            parser.error(f"cannot read --tsa-certs {args.tsa_certs}: {e}")
    report = verify_bundle(args.bundle, key, args.jobs, args.log_url, tsa_certs, args.check_form)
    sys.stdout.write(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
