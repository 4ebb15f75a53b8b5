"""Export bundles: a slice of the audit log that an auditor can verify offline.

A bundle for records a..b of a log is a directory (or a .tar.gz of one, with the
files at its top or inside one folder) holding:

``records.jsonl``
    Records a..b, one per line, each the canonical JSON of the record plus its
    ``"hash"`` (see ENCODING.md), every line ending in a newline.
``prefix_hashes.txt``
    The record hashes of records 1..a-1 in order, one lowercase hex hash per line
    (empty when a = 1). Hashes reveal nothing about the records they stand for.
``checkpoint.txt``
    The log's signed checkpoint at tree size b (c2sp.org/tlog-checkpoint); its
    tree's leaves are the record hashes of records 1..b.
``public_key.vkey``
    The log's verifier key (``<name>+<key id>+<key>``).
``previous_checkpoint.txt`` and ``consistency_proof.txt`` (both or neither)
    An earlier signed checkpoint of the same log, at a size m with 1 <= m <= b
    (normally the one in the previous export), and the RFC 9162 consistency proof
    from m to b, one lowercase hex hash per line.
``checkpoint.tsr`` and ``tsa_certificates.pem`` (both or neither)
    An RFC 3161 TimeStampResp (DER) over the bytes of ``checkpoint.txt`` (SHA-256
    message imprint), and the PEM certificates of the TSA that issued it (its root
    first among them). Pass the TSA's root obtained apart to pin it.
``manifest.json``
    ``{"format": "mhc-forensic-bundle/1", "origin": ..., "range": {"first": a,
    "last": b}, "created_at": "...Z", "files": {name: sha256 hex, ...}}`` covering
    every other file.

Why this is enough: the chain check ties records a..b to each other and to the last
prefix hash; recomputing the tree over prefix hashes plus the range's record hashes
and matching the signed root proves the range is exactly entries a..b of the log
the key signed at size b; the consistency proof shows that log only appended since
the earlier checkpoint, which the auditor may hold from a previous export. The
manifest is not signed: its digests only catch damage in transit, all trust rests
on the checkpoint signature and on how the auditor obtained the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from forensics.chain import Record, format_ts, record_line
from forensics.checkpoint import CheckpointError, VerifierKey, parse_vkey, verify_checkpoint

FORMAT = "mhc-forensic-bundle/1"
MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
PREFIX = "prefix_hashes.txt"
CHECKPOINT = "checkpoint.txt"
VKEY = "public_key.vkey"
PREVIOUS = "previous_checkpoint.txt"
PROOF = "consistency_proof.txt"
TIMESTAMP = "checkpoint.tsr"
TSA_CERTS = "tsa_certificates.pem"
REQUIRED = (RECORDS, PREFIX, CHECKPOINT, VKEY)
OPTIONAL = (PREVIOUS, PROOF, TIMESTAMP, TSA_CERTS)


class BundleError(ValueError):
    """A bundle cannot be written or opened as asked."""


def file_digest(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def hashes_text(hashes: Iterable[bytes]) -> str:
    """Return hashes as lowercase hex lines."""
    return "".join(h.hex() + "\n" for h in hashes)


def parse_hashes(text: str) -> list[bytes]:
    """Parse lowercase hex hash lines, raising ValueError on anything else."""
    if not text:
        return []
    body = text.removesuffix("\n")
    lines = body.split("\n")
    # Length and case checks up front let one fromhex call do the rest, which keeps
    # a million prefix hashes cheap.
    if body == text or any(len(x) != 64 for x in lines) or body != body.lower():
        raise ValueError("expected lines of 64 lowercase hex digits, each ending in a newline")
    raw = bytes.fromhex("".join(lines))
    if len(raw) != 32 * len(lines):  # fromhex skips spaces
        raise ValueError("expected lines of 64 lowercase hex digits, without spaces")
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


def write_bundle(
    directory: str | Path,
    records: Iterable[Record],
    prefix_hashes: Sequence[bytes],
    checkpoint_text: str,
    vkey: str | VerifierKey,
    previous_checkpoint_text: str | None,
    consistency_proof: Sequence[bytes] | None,
    origin: str,
    *,
    created_at: datetime | None = None,
    timestamp: bytes | None = None,
    tsa_certs: bytes | None = None,
) -> Path:
    """Write the bundle of records a..b, where a = len(prefix_hashes) + 1."""

    def lines() -> Iterator[str]:
        """Yield export lines, checking the records start right after the prefix."""
        for seq, record in enumerate(records, len(prefix_hashes) + 1):
            if record.seq != seq:
                raise BundleError(f"expected record seq {seq}, got {record.seq}")
            yield record_line(record)

    return write_bundle_lines(
        directory,
        lines(),
        prefix_hashes,
        checkpoint_text,
        vkey,
        previous_checkpoint_text,
        consistency_proof,
        origin,
        created_at=created_at,
        timestamp=timestamp,
        tsa_certs=tsa_certs,
    )


def write_bundle_lines(
    directory: str | Path,
    lines: Iterable[str],
    prefix_hashes: Sequence[bytes],
    checkpoint_text: str,
    vkey: str | VerifierKey,
    previous_checkpoint_text: str | None,
    consistency_proof: Sequence[bytes] | None,
    origin: str,
    *,
    created_at: datetime | None = None,
    timestamp: bytes | None = None,
    tsa_certs: bytes | None = None,
) -> Path:
    """Write a bundle from export lines already made by chain.record_line."""
    key = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    if (previous_checkpoint_text is None) != (consistency_proof is None):
        raise BundleError("give both a previous checkpoint and a consistency proof, or neither")
    if (timestamp is None) != (tsa_certs is None):
        raise BundleError("give both a timestamp and the TSA's certificates, or neither")
    # Refuse to write a bundle that could never verify, while the caller can still act.
    try:
        head = verify_checkpoint(checkpoint_text, key.name, key.public_key)
        previous = (
            None
            if previous_checkpoint_text is None
            else verify_checkpoint(previous_checkpoint_text, key.name, key.public_key)
        )
    except CheckpointError as e:
        raise BundleError(f"checkpoint does not verify with the given key: {e}") from None
    first = len(prefix_hashes) + 1
    if head.origin != origin or head.size < first:
        raise BundleError(
            f"checkpoint is for {head.origin!r} at size {head.size}, "
            f"not {origin!r} at a size of at least {first}"
        )
    if previous is not None and not (previous.origin == origin and 1 <= previous.size <= head.size):
        raise BundleError("previous checkpoint is for another log or not within 1..size")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise BundleError(f"{out} is not empty")
    try:
        _write_files(
            out,
            lines,
            first,
            head.size,
            prefix_hashes,
            checkpoint_text,
            key,
            previous_checkpoint_text,
            consistency_proof,
            origin,
            created_at,
            timestamp,
            tsa_certs,
        )
    except BaseException:
        # Leave no half-written bundle that someone might ship.
        for path in out.iterdir():
            path.unlink()
        raise
    return out


def _write_files(
    out: Path,
    lines: Iterable[str],
    first: int,
    last: int,
    prefix_hashes: Sequence[bytes],
    checkpoint_text: str,
    key: VerifierKey,
    previous_checkpoint_text: str | None,
    consistency_proof: Sequence[bytes] | None,
    origin: str,
    created_at: datetime | None,
    timestamp: bytes | None = None,
    tsa_certs: bytes | None = None,
) -> None:
    """Write the files of a checked bundle into an empty directory, manifest last."""
    count = 0
    with (out / RECORDS).open("w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
            count += 1
    if first + count - 1 != last:
        raise BundleError(
            f"records {first}..{first + count - 1} do not end at the checkpoint size {last}"
        )
    files = {PREFIX: hashes_text(prefix_hashes), CHECKPOINT: checkpoint_text, VKEY: f"{key}\n"}
    if previous_checkpoint_text is not None and consistency_proof is not None:
        files[PREVIOUS] = previous_checkpoint_text
        files[PROOF] = hashes_text(consistency_proof)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")
    if timestamp is not None and tsa_certs is not None:
        (out / TIMESTAMP).write_bytes(timestamp)
        (out / TSA_CERTS).write_bytes(tsa_certs)
        files[TIMESTAMP] = files[TSA_CERTS] = ""
    manifest = {
        "format": FORMAT,
        "origin": origin,
        "range": {"first": first, "last": last},
        "created_at": format_ts(created_at or datetime.now(UTC)),
        "files": {name: file_digest(out / name) for name in sorted([RECORDS, *files])},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def pack_bundle(directory: str | Path, archive: str | Path) -> Path:
    """Write a bundle directory as a .tar.gz with the files inside one folder."""
    src, dest = Path(directory), Path(archive)
    with tarfile.open(dest, "w:gz") as tar:
        for path in sorted(src.iterdir()):
            tar.add(path, arcname=f"{src.name}/{path.name}", recursive=False)
    return dest


@contextmanager
def open_bundle(path: str | Path) -> Iterator[Path]:
    """Yield the directory of a bundle, unpacking a .tar.gz into a temporary one."""
    src = Path(path)
    if src.is_dir():
        yield src
        return
    with tempfile.TemporaryDirectory(prefix="mhc-bundle-") as tmp:
        try:
            with tarfile.open(src, "r:*") as tar:
                _unpack(tar, Path(tmp))
        except (tarfile.TarError, OSError, EOFError) as e:
            raise BundleError(f"{src} is not a readable bundle archive: {e}") from None
        yield Path(tmp)


def _unpack(tar: tarfile.TarFile, dest: Path) -> None:
    """Copy the bundle's regular files out of an archive, refusing anything else."""
    # Only known names, flat or under one folder, as regular files: an archive from
    # an untrusted party cannot write anywhere else or smuggle links.
    known = {MANIFEST, *REQUIRED, *OPTIONAL}
    tops: set[str] = set()
    for member in tar.getmembers():
        parts = PurePosixPath(member.name).parts
        if member.isdir() and len(parts) == 1:
            continue
        if not member.isfile() or len(parts) > 2 or parts[-1] not in known or ".." in parts:
            raise BundleError(f"unexpected archive member {member.name!r}")
        tops.add(parts[0] if len(parts) == 2 else "")
        if len(tops) > 1:
            raise BundleError("archive holds more than one bundle")
        f = tar.extractfile(member)
        if f is None:
            raise BundleError(f"cannot read archive member {member.name!r}")
        fd = os.open(dest / parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with f, os.fdopen(fd, "wb") as out:
            while chunk := f.read(1 << 20):
                out.write(chunk)
