"""Export bundles and the offline verifier, including tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forensics.benchmark import benchmark_verify, synthetic_lines
from forensics.bundle import (
    BundleError,
    file_digest,
    pack_bundle,
    write_bundle,
    write_bundle_lines,
)
from forensics.chain import GENESIS_PREV, Record, record_from_json, record_hash, record_line
from forensics.checkpoint import VerifierKey, sign_checkpoint, verifier_key
from forensics.merkle import MerkleTree, leaf_hashes
from forensics.verify import verify_bundle

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "mhc.test/audit"
KEY_NAME = "mhc.test"
N = 60


@dataclass(frozen=True)
class Log:
    """A signed log of N records."""

    key: Ed25519PrivateKey
    vkey: VerifierKey
    records: list[Record]
    tree: MerkleTree

    def checkpoint(self, size: int) -> str:
        """Return the signed checkpoint at size."""
        return sign_checkpoint(ORIGIN, size, self.tree.root(size), KEY_NAME, self.key)

    def bundle(
        self, directory: Path, first: int = 1, last: int = N, previous: int | None = 30
    ) -> Path:
        """Write the bundle of records first..last, with a previous checkpoint if given."""
        hashes = [record_hash(r) for r in self.records]
        return write_bundle(
            directory,
            self.records[first - 1 : last],
            hashes[: first - 1],
            self.checkpoint(last),
            self.vkey.encode(),
            None if previous is None else self.checkpoint(previous),
            None if previous is None else self.tree.consistency_proof(previous, last),
            ORIGIN,
        )


@pytest.fixture(scope="module")
def log() -> Log:
    """Records 1..N with varied content, their tree and signing key."""
    records, prev = [], GENESIS_PREV
    t0 = datetime(2025, 6, 1, 19, 0, tzinfo=UTC)
    for seq in range(1, N + 1):
        r = Record(
            seq,
            t0 + timedelta(seconds=seq, microseconds=seq * 7),
            ("ticket.purchased", "stream.started", "chat.message_removed")[seq % 3],
            f"user:{seq % 7}",
            None if seq % 4 == 0 else f"event:{seq // 10}",
            {"amount": seq * 150, "currency": "EUR", "note": "Café ☕" if seq % 5 == 0 else "ok"},
            prev,
        )
        prev = record_hash(r)
        records.append(r)
    key = Ed25519PrivateKey.generate()
    tree = MerkleTree(leaf_hashes(record_hash(r) for r in records))
    return Log(key, verifier_key(KEY_NAME, key), records, tree)


def run_verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the verifier command line as an auditor would."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "forensics.verify", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


def redigest(bundle: Path) -> None:
    """Rewrite the manifest digests, as a forger who edits files would."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = {n: file_digest(bundle / n) for n in manifest["files"]}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def edit_lines(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    """Apply change to the lines of a text file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("".join(x + "\n" for x in change(lines)), encoding="utf-8")


def line_of(report: str, check: str) -> str:
    """Return the report line of a check."""
    return next(x for x in report.splitlines() if x.split()[1:2] == [check])


def test_whole_log_verifies(log: Log, tmp_path: Path) -> None:
    """A bundle of the whole log verifies from the command line, as a directory and archive."""
    bundle = log.bundle(tmp_path / "b")
    result = run_verify(bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("manifest", "key", "checkpoint", "records", "range", "root", "consistency"):
        assert line_of(result.stdout, check).split()[0] == "OK", result.stdout
    assert result.stdout.rstrip().endswith("result: VERIFIED")
    archive = pack_bundle(bundle, tmp_path / "b.tar.gz")
    assert run_verify(archive).returncode == 0


def test_range_with_pinned_key(log: Log, tmp_path: Path) -> None:
    """Records 21..N verify against prefix hashes, with the key given apart from the bundle."""
    bundle = log.bundle(tmp_path / "b", first=21, previous=50)
    assert sorted(p.name for p in bundle.iterdir()) == [
        "checkpoint.txt",
        "consistency_proof.txt",
        "manifest.json",
        "prefix_hashes.txt",
        "previous_checkpoint.txt",
        "public_key.vkey",
        "records.jsonl",
    ]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["range"] == {"first": 21, "last": N} and manifest["origin"] == ORIGIN
    assert len((bundle / "prefix_hashes.txt").read_text().splitlines()) == 20
    vkey = tmp_path / "log.vkey"
    vkey.write_text(log.vkey.encode() + "\n")
    result = run_verify(bundle, "--key", vkey)
    assert result.returncode == 0, result.stdout
    assert "given key mhc.test+" in line_of(result.stdout, "key")
    assert "seq 21..60" in line_of(result.stdout, "records")


def test_without_previous_checkpoint(log: Log, tmp_path: Path) -> None:
    """A first export has no consistency proof, which is reported, not failed."""
    report = verify_bundle(log.bundle(tmp_path / "b", last=10, previous=None))
    assert report.ok and report.status("consistency") == "SKIP"


def _alter_amount(lines: list[str]) -> list[str]:
    """Change one byte of record 37."""
    lines[36] = lines[36].replace('"amount":5550', '"amount":5551')
    return lines


def _swap_45_46(lines: list[str]) -> list[str]:
    """Swap records 45 and 46."""
    lines[44], lines[45] = lines[45], lines[44]
    return lines


def _change_root(lines: list[str]) -> list[str]:
    """Replace the checkpoint's root hash."""
    lines[2] = base64.b64encode(bytes(32)).decode()
    return lines


def _forge_tail(lines: list[str]) -> list[str]:
    """Alter record 37 and re-chain every record after it, hashes included."""
    prev = bytes.fromhex(json.loads(lines[35])["hash"])
    for i in range(36, len(lines)):
        record, _ = record_from_json(json.loads(lines[i]))
        data = {**record.data, "amount": 1} if i == 36 else record.data
        record = Record(**{**record.__dict__, "data": data, "prev_hash": prev})
        lines[i], prev = record_line(record), record_hash(record)
    return lines


TAMPERING = [
    # file to edit, the edit, the check that must fail, text in its line, first bad seq
    pytest.param(
        "records.jsonl", _alter_amount, "records", "seq 37: stored hash does not match", 37,
        id="altered byte",
    ),
    pytest.param(
        "records.jsonl", lambda x: x[:39] + x[40:], "records",
        "seq 40: expected seq 40, found seq 41", 40, id="missing record",
    ),
    pytest.param(
        "records.jsonl", _swap_45_46, "records", "seq 45: expected seq 45, found seq 46", 45,
        id="reordered records",
    ),
    pytest.param(
        "records.jsonl", lambda x: x[:-1], "range",
        "records end at seq 59 but the checkpoint is at size 60", 60, id="truncated records",
    ),
    pytest.param(
        "records.jsonl", _forge_tail, "root", "differs from the signed root", None,
        id="forged and re-chained",
    ),
    pytest.param(
        "prefix_hashes.txt", lambda x: [x[0][::-1], *x[1:]], "root",
        "differs from the signed root", None, id="altered prefix hash",
    ),
    pytest.param(
        "consistency_proof.txt", lambda x: x[:-1], "consistency", "too short", None,
        id="truncated consistency proof",
    ),
    pytest.param(
        "checkpoint.txt", _change_root, "checkpoint", "does not verify", None,
        id="changed checkpoint root",
    ),
    pytest.param(
        "previous_checkpoint.txt", _change_root, "consistency", "previous checkpoint", None,
        id="changed previous checkpoint",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("file", "change", "check", "reason", "bad_seq"), TAMPERING)
def test_tampering_is_caught(
    log: Log,
    tmp_path: Path,
    file: str,
    change: Callable[[list[str]], list[str]],
    check: str,
    reason: str,
    bad_seq: int | None,
) -> None:
    """Each forgery, even with the manifest redone, fails with a reason naming it."""
    bundle = log.bundle(tmp_path / "b", first=11 if file == "prefix_hashes.txt" else 1)
    edit_lines(bundle / file, change)
    redigest(bundle)
    result = run_verify(bundle)
    assert result.returncode == 1, result.stdout
    line = line_of(result.stdout, check)
    assert line.split()[0] == "FAIL" and reason in line, result.stdout
    assert line_of(result.stdout, "manifest").split()[0] == "OK"
    if bad_seq is not None:
        assert result.stdout.rstrip().endswith(f"(first bad seq {bad_seq})")


def _forge_duplicate(lines: list[str]) -> list[str]:
    """Put a forged actor and type before record 12's genuine ones."""
    lines[11] = lines[11].replace(
        '{"actor":', '{"type":"refund.approved","actor":"admin:0","actor":', 1
    )
    return lines


def _respace(lines: list[str]) -> list[str]:
    """Write record 12 with other spacing: the same values, another text."""
    lines[11] = json.dumps(json.loads(lines[11]), indent=1).replace("\n", "")
    return lines


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_forge_duplicate, "seq 12: malformed record: duplicate member 'actor'"),
        (_respace, "seq 12: line is not in canonical form"),
    ],
)
def test_forged_line_that_parses_to_the_genuine_record(
    log: Log, tmp_path: Path, change: Callable[[list[str]], list[str]], reason: str
) -> None:
    """A line a first-wins reader sees differently, or any non-canonical line, fails."""
    bundle = log.bundle(tmp_path / "b")
    original = (bundle / "records.jsonl").read_text().splitlines()
    edit_lines(bundle / "records.jsonl", change)
    forged = (bundle / "records.jsonl").read_text().splitlines()
    assert forged != original and list(map(json.loads, forged)) == list(map(json.loads, original))
    redigest(bundle)
    result = run_verify(bundle)
    assert result.returncode == 1, result.stdout
    line = line_of(result.stdout, "records")
    assert line.split()[0] == "FAIL" and reason in line, result.stdout
    assert result.stdout.rstrip().endswith("result: FAILED (first bad seq 12)")


def test_manifest_with_duplicate_members(log: Log, tmp_path: Path) -> None:
    """A manifest whose members a first-wins reader would read differently is refused."""
    bundle = log.bundle(tmp_path / "b")
    text = (bundle / "manifest.json").read_text()
    (bundle / "manifest.json").write_text(text.replace("{", '{"range":{"first":1,"last":1},', 1))
    line = line_of(run_verify(bundle).stdout, "manifest")
    assert line.split()[0] == "FAIL" and "duplicate member 'range'" in line


def test_manifest_digest_mismatch(log: Log, tmp_path: Path) -> None:
    """A file that does not match its manifest digest is named."""
    bundle = log.bundle(tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["records.jsonl"] = "0" * 64
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = run_verify(bundle)
    assert result.returncode == 1
    assert "records.jsonl does not match its SHA-256 digest" in line_of(result.stdout, "manifest")


def test_unlisted_file(log: Log, tmp_path: Path) -> None:
    """Files the manifest does not list are refused."""
    bundle = log.bundle(tmp_path / "b")
    (bundle / "extra.txt").write_text("x")
    assert "unlisted file extra.txt" in line_of(run_verify(bundle).stdout, "manifest")


def test_wrong_key(log: Log, tmp_path: Path) -> None:
    """An independently obtained key that did not sign the checkpoint fails it."""
    bundle = log.bundle(tmp_path / "b")
    other = tmp_path / "other.vkey"
    other.write_text(verifier_key(KEY_NAME, Ed25519PrivateKey.generate()).encode())
    result = run_verify(bundle, "--key", other)
    assert result.returncode == 1
    line = line_of(result.stdout, "checkpoint")
    assert line.split()[0] == "FAIL" and "no signature by key mhc.test" in line
    assert "differs from the bundled key" in line_of(result.stdout, "key")


def test_resigned_bundle_needs_a_pinned_key(log: Log, tmp_path: Path) -> None:
    """A forger who re-signs with their own key is caught only by --key: it says so."""
    forger = Ed25519PrivateKey.generate()
    records = [*log.records[:9], Record(**{**log.records[9].__dict__, "type": "forged"})]
    tree = MerkleTree(leaf_hashes(record_hash(r) for r in records))
    note = sign_checkpoint(ORIGIN, 10, tree.root(), KEY_NAME, forger)
    forged_key = verifier_key(KEY_NAME, forger)
    bundle = write_bundle(tmp_path / "b", records, [], note, forged_key, None, None, ORIGIN)
    unpinned = run_verify(bundle)
    assert unpinned.returncode == 0
    assert "not independently obtained" in line_of(unpinned.stdout, "key")
    real = tmp_path / "real.vkey"
    real.write_text(log.vkey.encode())
    assert run_verify(bundle, "--key", real).returncode == 1


def test_usage_errors(log: Log, tmp_path: Path) -> None:
    """Usage errors exit 2."""
    bundle = log.bundle(tmp_path / "b", last=5, previous=None)
    (tmp_path / "bad.vkey").write_text("not a key")
    assert run_verify().returncode == 2
    assert run_verify(tmp_path / "missing").returncode == 2
    assert run_verify(bundle, "--key", tmp_path / "bad.vkey").returncode == 2
    assert run_verify(bundle, "--key", tmp_path / "absent.vkey").returncode == 2


def test_unsafe_archive_is_refused(log: Log, tmp_path: Path) -> None:
    """Archive members outside the bundle's names are refused, never extracted."""
    bundle = log.bundle(tmp_path / "b", last=5, previous=None)
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for p in bundle.iterdir():
            tar.add(p, arcname=f"b/{p.name}")
        tar.add(bundle / "records.jsonl", arcname="../escape.txt")
    report = verify_bundle(archive)
    assert not report.ok and "unexpected archive member '../escape.txt'" in report.render()
    assert not (tmp_path / "escape.txt").exists()
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tarball")
    assert run_verify(garbage).returncode == 1


def _drop(seq: int) -> Callable[[list[str]], list[str]]:
    """Return an edit removing record seq."""
    return lambda lines: lines[: seq - 1] + lines[seq:]


def _alter(seq: int) -> Callable[[list[str]], list[str]]:
    """Return an edit changing the content of record seq."""

    def change(lines: list[str]) -> list[str]:
        lines[seq - 1] = lines[seq - 1].replace('"ok"', '"OK"').replace("Café", "Cafe")
        return lines

    return change


def test_parallel_verification_finds_the_same_first_bad_seq(log: Log, tmp_path: Path) -> None:
    """With two worker processes, breaks near and at span boundaries are still exact."""
    bundle = log.bundle(tmp_path / "b")
    assert verify_bundle(bundle, jobs=2).ok
    original = (bundle / "records.jsonl").read_text()
    for seq in (1, 28, 29, 30, 31, 32, 33, 59):
        for edit, reason in ((_drop(seq), "expected seq"), (_alter(seq), "stored hash")):
            (bundle / "records.jsonl").write_text(original)
            edit_lines(bundle / "records.jsonl", edit)
            parallel, single = verify_bundle(bundle, jobs=2), verify_bundle(bundle, jobs=1)
            assert parallel.first_bad_seq == seq, parallel.render()
            assert parallel.render() == single.render()
            assert reason in parallel.render()


def test_write_bundle_refuses_inconsistent_input(log: Log, tmp_path: Path) -> None:
    """A bundle that could not verify is not written."""
    hashes = [record_hash(r) for r in log.records]
    other = verifier_key(KEY_NAME, Ed25519PrivateKey.generate())
    args = (log.records[:10], [], log.checkpoint(10), log.vkey, None, None, ORIGIN)
    with pytest.raises(BundleError, match="does not verify"):
        write_bundle(tmp_path / "a", *args[:3], other, *args[4:])
    with pytest.raises(BundleError, match="do not end at the checkpoint size"):
        write_bundle(tmp_path / "b", log.records[:9], *args[1:])
    with pytest.raises(BundleError, match="both"):
        write_bundle(tmp_path / "c", *args[:4], log.checkpoint(5), None, ORIGIN)
    with pytest.raises(BundleError, match=re.escape("checkpoint is for 'mhc.test/audit'")):
        write_bundle(tmp_path / "d", *args[:6], "other/log")
    with pytest.raises(BundleError, match="at least"):
        write_bundle(tmp_path / "e", log.records[10:12], hashes[:10], log.checkpoint(5), *args[3:])
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x").write_text("")
    with pytest.raises(BundleError, match="not empty"):
        write_bundle(tmp_path / "f", *args)


def test_synthetic_lines_are_export_lines() -> None:
    """The benchmark's fast generator writes exactly what record_line writes."""
    lines = list(synthetic_lines(50))
    for line, digest in lines:
        record, stored = record_from_json(json.loads(line))
        assert record_line(record) == line and record_hash(record) == stored == digest


def test_benchmark_helper() -> None:
    """The benchmark builds and verifies a bundle."""
    result = benchmark_verify(3000, jobs=1)
    assert result.ok and result.rate > 0


def _rehash(line: str) -> str:
    """The line with its "hash" member taken over its own other bytes, as a writer makes it."""
    cut = line.rindex(',"hash":"')
    rest = line[:cut] + line[cut + 74 :]
    return f'{line[:cut]},"hash":"{hashlib.sha256(rest.encode()).hexdigest()}"{line[cut + 74 :]}'


def _signed_bundle(log: Log, directory: Path, lines: list[str]) -> Path:
    """Write a bundle of export lines (whatever their form) that the log's key signs, as
    the signer itself would: each line's record hash taken over its own bytes."""
    hashes = [bytes.fromhex(json.loads(line)["hash"]) for line in lines]
    tree = MerkleTree(leaf_hashes(hashes))
    note = sign_checkpoint(ORIGIN, len(lines), tree.root(), KEY_NAME, log.key)
    return write_bundle_lines(directory, lines, [], note, log.vkey, None, None, ORIGIN)


def test_signed_lines_verify_by_their_bytes_and_check_form_re_encodes_them(
    log: Log, tmp_path: Path
) -> None:
    """Under a signed root the lines are checked as bytes; --check-form also re-encodes
    each, and both agree on a genuine bundle, including strings with escaped quotes."""
    records, prev = [], GENESIS_PREV
    for seq in range(1, 41):
        r = Record(
            seq,
            datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=seq),
            'said "hi"' if seq % 4 == 0 else "chat.message",
            'user:"7"' if seq % 3 == 0 else None,
            'ticket:"x"\\' if seq % 5 == 0 else "event:1",
            {"text": 'a "quote" and a \\ backslash', "n": seq},
            prev,
        )
        prev = record_hash(r)
        records.append(r)
    bundle = _signed_bundle(log, tmp_path / "b", [record_line(r) for r in records])
    fast, form = run_verify(bundle), run_verify(bundle, "--check-form")
    assert fast.returncode == 0 and form.returncode == 0, fast.stdout + form.stdout
    assert "seq 1..40: order, links and hashes hold (byte for byte under the signed root)" in (
        line_of(fast.stdout, "records")
    )
    assert "(each line canonical)" in line_of(form.stdout, "records")


def test_a_signers_noncanonical_line_fails_only_the_form_check(log: Log, tmp_path: Path) -> None:
    """A line signed as it stands is the signed text, whatever its form; --check-form holds
    the signer to canonical lines too and names the first that is not."""
    lines = [record_line(r) for r in log.records[:20]]
    lines[19] = _rehash(lines[19].replace('"currency":"EUR"', '"currency": "EUR"'))
    bundle = _signed_bundle(log, tmp_path / "b", lines)
    assert run_verify(bundle).returncode == 0
    form = run_verify(bundle, "--check-form")
    assert form.returncode == 1
    assert "seq 20: line is not in canonical form" in line_of(form.stdout, "records")
    assert form.stdout.rstrip().endswith("result: FAILED (first bad seq 20)")


def test_a_root_that_differs_gets_every_line_re_encoded(log: Log, tmp_path: Path) -> None:
    """When the bytes do not give the signed root, the verifier re-reads the lines to say
    which record is wrong: a respaced line the forger re-hashed is named, not the root."""
    lines = [record_line(r) for r in log.records[:20]]
    lines[-1] = _rehash(lines[-1].replace('"currency":"EUR"', '"currency": "EUR"'))
    bundle = log.bundle(tmp_path / "b", last=20, previous=None)
    (bundle / "records.jsonl").write_text("".join(x + "\n" for x in lines))
    redigest(bundle)
    result = run_verify(bundle)
    assert result.returncode == 1
    assert "seq 20: line is not in canonical form" in line_of(result.stdout, "records")
    assert line_of(result.stdout, "root").split()[0] == "SKIP"
