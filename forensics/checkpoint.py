"""Signed tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint) in Ed25519 signed notes.

A checkpoint body is three lines: the log origin, the tree size in decimal and the
base64 root hash. The signed note (c2sp.org/signed-note) appends a blank line and one
line per signature, ``— <key name> <base64(key id || signature)>``, where the 4-byte key
id is the start of SHA-256(key name || 0x0A || 0x01 || public key) and 0x01 marks
Ed25519. Verifier keys travel as ``<name>+<hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
_SIG_PREFIX = "\u2014 "  # em dash and a space open every signature line
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_BAD_NAME_RE = re.compile(r"[\s+]|^$")
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class CheckpointError(ValueError):
    """A checkpoint, signed note or key is malformed or does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """The signed statement: the log named origin had size entries with this root."""

    origin: str
    size: int
    root: bytes


def _b64decode(text: str, what: str) -> bytes:
    """Decode strict standard base64 or raise CheckpointError naming what it was."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CheckpointError(f"{what} is not valid base64") from None


def _check_name(name: str) -> None:
    """Reject key names that the note format cannot carry."""
    if _BAD_NAME_RE.search(name):
        raise CheckpointError(f"invalid key name {name!r}: empty, or has a space or '+'")


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte key id binding a key name to an Ed25519 public key."""
    _check_name(name)
    material = name.encode() + b"\n" + bytes([ED25519]) + _raw_public(public_key)
    return hashlib.sha256(material).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key that checks checkpoint signatures."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        """Return the 4-byte key id."""
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        """Return the vkey text form."""
        raw = base64.b64encode(bytes([ED25519]) + _raw_public(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    def __str__(self) -> str:
        """Return the vkey text form."""
        return self.encode()


def verifier_key(name: str, private_key: Ed25519PrivateKey) -> VerifierKey:
    """Return the verifier key for a signing key under the given name."""
    _check_name(name)
    return VerifierKey(name, private_key.public_key())


def parse_vkey(text: str) -> VerifierKey:
    """Parse a vkey, checking that its key id matches its name and key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("vkey must be <name>+<hex key id>+<base64 key>")
    name, hex_id, b64 = parts
    _check_name(name)
    raw = _b64decode(b64, "vkey key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise CheckpointError("vkey is not an Ed25519 key")
    key = VerifierKey(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if hex_id.lower() != key.key_id.hex() or len(hex_id) != 8:
        raise CheckpointError("vkey key id does not match its name and key")
    return key


def generate_key_file(path: str | Path) -> Ed25519PrivateKey:
    """Create a new Ed25519 signing key as an owner-only PKCS#8 PEM file."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: never replace an existing signing key, whose checkpoints would then
    # become unverifiable; the mode is set at creation so the key is never readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def load_key_file(path: str | Path) -> Ed25519PrivateKey:
    """Load an unencrypted PEM Ed25519 signing key."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} does not hold an Ed25519 private key")
    return key


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """Return the unsigned checkpoint text."""
    if not origin or _CONTROL_RE.search(origin) or "\n" in origin:
        raise CheckpointError("origin must be one non-empty line of printable text")
    if size < 0:
        raise CheckpointError("tree size must not be negative")
    if len(root) != 32:
        raise CheckpointError("root hash must be 32 bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse an (already authenticated) checkpoint body."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "" or "" in lines[:-1]:
        raise CheckpointError("checkpoint needs origin, size and root lines")
    origin, size, root = lines[0], lines[1], _b64decode(lines[2], "root hash")
    # Extension lines (lines[3:-1]) are allowed by the format and carry nothing we use.
    if not _SIZE_RE.fullmatch(size):
        raise CheckpointError(f"tree size {size!r} is not a decimal number")
    if len(root) != 32:
        raise CheckpointError(f"root hash is {len(root)} bytes, not 32")
    return Checkpoint(origin, int(size), root)


def sign_note(text: str, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return text as a signed note with one Ed25519 signature."""
    lines = text.split("\n")
    if lines[-1] != "" or "" in lines[:-1] or _CONTROL_RE.search(text):
        raise CheckpointError("note text must be non-empty lines, each ending in a newline")
    kid = key_id(key_name, private_key.public_key())
    sig = private_key.sign(text.encode())
    return f"{text}\n{_SIG_PREFIX}{key_name} {base64.b64encode(kid + sig).decode()}\n"


def sign_checkpoint(
    origin: str, size: int, root: bytes, key_name: str, private_key: Ed25519PrivateKey
) -> str:
    """Return the signed note text of a checkpoint."""
    return sign_note(checkpoint_body(origin, size, root), key_name, private_key)


def open_note(note_text: str, key_name: str, public_key: Ed25519PublicKey) -> str:
    """Return the text of a signed note after checking its signature by the given key."""
    if _CONTROL_RE.search(note_text):
        raise CheckpointError("note contains control characters")
    if not note_text.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    split = note_text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no signature block")
    body, sig_lines = note_text[: split + 1], note_text[split + 2 : -1].split("\n")
    kid = key_id(key_name, public_key)
    found = False
    for line in sig_lines:
        name, _, b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
        if not line.startswith(_SIG_PREFIX) or not b64 or " " in b64:
            raise CheckpointError(f"malformed signature line {line!r}")
        blob = _b64decode(b64, f"signature by {name}")
        if len(blob) < 5:
            raise CheckpointError(f"signature by {name} is too short")
        if name != key_name or blob[:4] != kid:
            continue  # another signer: the format lets notes carry many
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise CheckpointError(f"signature by {key_name} does not verify") from None
        found = True
    if not found:
        raise CheckpointError(f"no signature by key {key_name} ({kid.hex()})")
    return body


def verify_checkpoint(note_text: str, key_name: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """Check a signed checkpoint against a key and return what it states."""
    return parse_checkpoint(open_note(note_text, key_name, public_key))
