"""C2SP checkpoints in Ed25519 signed notes, and vkeys."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forensics.checkpoint import (
    Checkpoint,
    CheckpointError,
    generate_key_file,
    key_id,
    load_key_file,
    open_note,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    verifier_key,
    verify_checkpoint,
)

# The example of golang.org/x/mod/sumdb/note (also the signed-note spec's lineage):
# an independent implementation's key, text and signature.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ORIGIN = "mhc.example/audit"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    """A fresh signing key."""
    return Ed25519PrivateKey.generate()


def test_go_reference_note() -> None:
    """Signing and opening agree byte for byte with the Go implementation."""
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(GO_SKEY_B64)[1:])
    assert sign_note(GO_TEXT, "PeterNeumann", private) == GO_NOTE
    vkey = parse_vkey(GO_VKEY)
    assert vkey.encode() == GO_VKEY == verifier_key("PeterNeumann", private).encode()
    assert open_note(GO_NOTE, vkey.name, vkey.public_key) == GO_TEXT
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), vkey.name, vkey.public_key)


def test_vkey_with_plus_in_base64() -> None:
    """A vkey whose key material contains '+' (transparency-dev/formats test key) parses."""
    text = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    assert parse_vkey(text).encode() == text


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # key id
        "PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # name
        "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # key
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_vkeys(bad: str) -> None:
    """Mangled vkeys are refused."""
    with pytest.raises(CheckpointError):
        parse_vkey(bad)


def test_key_id_definition(key: Ed25519PrivateKey) -> None:
    """The key id is SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    pub = key.public_key()
    raw = verifier_key("log", key).encode().split("+", 2)[2]
    material = b"log\n" + base64.b64decode(raw)
    assert key_id("log", pub) == hashlib.sha256(material).digest()[:4]


def test_sign_and_verify(key: Ed25519PrivateKey) -> None:
    """A signed checkpoint has the C2SP layout and verifies to what was signed."""
    note = sign_checkpoint(ORIGIN, 42, ROOT, "mhc.example", key)
    lines = note.split("\n")
    assert lines[:4] == [ORIGIN, "42", base64.b64encode(ROOT).decode(), ""]
    assert lines[4].startswith("\u2014 mhc.example ") and lines[5] == ""
    blob = base64.b64decode(lines[4].split(" ")[2])
    assert blob[:4] == key_id("mhc.example", key.public_key()) and len(blob) == 68
    assert verify_checkpoint(note, "mhc.example", key.public_key()) == Checkpoint(ORIGIN, 42, ROOT)


def test_other_signers_are_ignored(key: Ed25519PrivateKey) -> None:
    """Signatures by other keys (cosigners) do not stop verification."""
    other = Ed25519PrivateKey.generate()
    note = sign_checkpoint(ORIGIN, 7, ROOT, "mhc.example", key)
    cosig = sign_checkpoint(ORIGIN, 7, ROOT, "witness", other).split("\n")[-2]
    verify_checkpoint(note + cosig + "\n", "mhc.example", key.public_key())


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda n: n.replace("\n42\n", "\n43\n"), "does not verify"),
        (lambda n: n.replace("mhc.example/audit", "mhc.example/other"), "does not verify"),
        (lambda n: n.replace("— mhc.example", "— other.example"), "no signature by key"),
        (lambda n: n.replace("— ", "- "), "malformed signature line"),
        (lambda n: n[:-1], "newline"),
        (lambda n: n.replace("\n\n", "\n"), "no signature block"),
        (lambda n: n.replace("mhc.example/audit", "mhc\x07example"), "control"),
    ],
)
def test_tampered_notes_fail(
    key: Ed25519PrivateKey, mangle: Callable[[str], str], reason: str
) -> None:
    """Any change to a signed checkpoint is refused with a reason."""
    note = sign_checkpoint(ORIGIN, 42, ROOT, "mhc.example", key)
    with pytest.raises(CheckpointError, match=reason):
        verify_checkpoint(mangle(note), "mhc.example", key.public_key())


def test_wrong_key_fails(key: Ed25519PrivateKey) -> None:
    """A checkpoint does not verify under another key with the same name."""
    note = sign_checkpoint(ORIGIN, 42, ROOT, "mhc.example", key)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CheckpointError, match=re.escape("no signature by key mhc.example")):
        verify_checkpoint(note, "mhc.example", other)


@pytest.mark.parametrize(
    "body",
    [
        "origin\n",
        "origin\n-1\n" + "A" * 44 + "\n",
        "origin\n01\n" + "A" * 44 + "\n",
        "origin\n1\nAAAA\n",
    ],
)
def test_malformed_bodies_fail(key: Ed25519PrivateKey, body: str) -> None:
    """Signed text that is not a checkpoint is refused even with a good signature."""
    with pytest.raises(CheckpointError):
        verify_checkpoint(sign_note(body, "k", key), "k", key.public_key())


def test_key_files(tmp_path: Path) -> None:
    """Key files are owner-only PEM, never overwritten, and load back."""
    path = tmp_path / "log.pem"
    key = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert load_key_file(path).public_key() == key.public_key()
    with pytest.raises(FileExistsError):
        generate_key_file(path)


def test_bad_key_names(key: Ed25519PrivateKey) -> None:
    """Names with spaces or '+' cannot be carried by notes or vkeys."""
    for name in ("", "a b", "a+b"):
        with pytest.raises(CheckpointError):
            sign_checkpoint(ORIGIN, 1, ROOT, name, key)
