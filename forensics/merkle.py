"""RFC 9162 (RFC 6962) Merkle tree hashing with inclusion and consistency proofs.

Leaves enter every function here as *leaf hashes* (``leaf_hash(data)``), so callers
hash each entry once and keep 32 bytes per entry. Verifiers return ``None`` on
success and raise :class:`ProofError` with the reason otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A Merkle proof, or the sizes and hashes it is checked against, does not verify."""


def leaf_hash(leaf: bytes) -> bytes:
    """Return SHA-256(0x00 || leaf), the hash of one log entry."""
    return _sha256(b"\x00" + leaf).digest()


def leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    """Return the leaf hash of each entry (one comprehension, no per-entry call)."""
    return [_sha256(b"\x00" + leaf).digest() for leaf in leaves]


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Return the largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _parents(level: bytes | bytearray, start: int) -> bytes:
    """Hash the pairs of a packed level from pair index start onwards."""
    # One comprehension over a packed buffer keeps the per-node cost to a single
    # hashlib call, which is what makes million-leaf trees cheap.
    return b"".join(
        [
            _sha256(b"\x01" + level[i : i + 2 * HASH_SIZE]).digest()
            for i in range(2 * HASH_SIZE * start, len(level) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE)
        ]
    )


class MerkleTree:
    """An append-only Merkle tree that keeps the hash of every complete subtree."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        """Build the tree over the given leaf hashes."""
        # levels[k] packs the hashes of the complete, aligned subtrees of 2**k leaves;
        # every node of the tree at any size is one of these or a fold of a few of them.
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """Return the number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash."""
        self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaf hashes in order."""
        hashes = list(leaf_hashes)
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError("leaf hashes must be 32 bytes each")
        self.extend_packed(b"".join(hashes))

    def extend_packed(self, packed: bytes) -> None:
        """Add leaf hashes given as one buffer of 32-byte hashes."""
        if len(packed) % HASH_SIZE:
            raise ValueError("packed leaf hashes must be a multiple of 32 bytes")
        self._levels[0] += packed
        k = 0
        while len(self._levels[k]) >= 2 * HASH_SIZE:
            if k + 1 == len(self._levels):
                self._levels.append(bytearray())
            done = len(self._levels[k + 1]) // HASH_SIZE
            self._levels[k + 1] += _parents(self._levels[k], done)
            k += 1

    def leaf(self, index: int) -> bytes:
        """Return the leaf hash at index."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def _subtree(self, lo: int, hi: int) -> bytes:
        """Return MTH of leaves [lo, hi), a range that is a node of some tree."""
        # Such a range splits left to right into complete subtrees of decreasing size,
        # and the RFC's recursive definition combines them right to left.
        parts: list[bytes] = []
        while lo < hi:
            k = (hi - lo).bit_length() - 1
            i = (lo >> k) * HASH_SIZE
            parts.append(bytes(self._levels[k][i : i + HASH_SIZE]))
            lo += 1 << k
        h = parts.pop()
        while parts:
            h = node_hash(parts.pop(), h)
        return h

    def _size(self, size: int | None) -> int:
        """Resolve and check a tree size argument."""
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} outside 0..{self.size}")
        return n

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash of the first size leaves (default: all)."""
        n = self._size(size)
        return self._subtree(0, n) if n else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the RFC 9162 inclusion path of leaf index in the tree of size leaves."""
        return [self._subtree(lo, hi) for lo, hi in inclusion_ranges(index, self._size(size))]

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Return the RFC 9162 consistency proof from size1 leaves to size2 leaves."""
        return [self._subtree(lo, hi) for lo, hi in consistency_ranges(size1, self._size(size2))]

    def level(self, height: int, start: int, count: int) -> bytes:
        """Return the packed hashes of complete subtrees of 2**height leaves, start onwards."""
        if height >= len(self._levels):
            return b""
        return bytes(self._levels[height][start * HASH_SIZE : (start + count) * HASH_SIZE])


def subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """Split leaves [lo, hi) into aligned complete subtrees, left to right, as (height, index)."""
    parts: list[tuple[int, int]] = []
    while lo < hi:
        k = (hi - lo).bit_length() - 1
        while lo & ((1 << k) - 1):
            k -= 1
        parts.append((k, lo >> k))
        lo += 1 << k
    return parts


def fold(parts: Sequence[bytes]) -> bytes:
    """Combine the hashes of a node's complete subtrees (left to right) into the node's hash."""
    h = parts[-1]
    for p in reversed(parts[:-1]):
        h = node_hash(p, h)
    return h


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges [lo, hi) whose hashes form the inclusion path, in proof order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside tree of size {size}")
    path: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose hashes form the consistency proof, in proof order."""
    if not 0 < size1 <= size2:
        raise ValueError(f"size1 {size1} outside 1..{size2}")
    proof: list[tuple[int, int]] = []
    lo, hi, whole = 0, size2, True
    # Iterative SUBPROOF(m, D[lo:hi], whole): descend towards the old tree's edge,
    # collecting the sibling subtrees on the way, outermost first.
    while size1 != hi:
        k = _split(hi - lo)
        if size1 - lo <= k:
            proof.append((lo + k, hi))
            hi = lo + k
        else:
            proof.append((lo, lo + k))
            lo += k
            whole = False
    if not whole:
        proof.append((lo, hi))
    proof.reverse()
    return proof


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of a list of leaf hashes."""
    return MerkleTree(leaf_hashes).root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the inclusion path of leaf index in the tree over leaf_hashes."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """Return the consistency proof from the first size1 leaves to all of them."""
    return MerkleTree(leaf_hashes).consistency_proof(size1)


def _check_hashes(proof: Sequence[bytes], **named: bytes) -> None:
    """Raise ProofError unless every proof element and named hash is 32 bytes."""
    for name, value in named.items():
        if len(value) != HASH_SIZE:
            raise ProofError(f"{name} is {len(value)} bytes, not {HASH_SIZE}")
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            raise ProofError(f"proof element {i} is {len(p)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Return the root implied by an inclusion path (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} outside tree of size {size}")
    _check_hashes(proof, leaf_hash=leaf)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf is at index in the tree of size leaves with the given root."""
    if len(root) != HASH_SIZE:
        raise ProofError(f"root is {len(root)} bytes, not {HASH_SIZE}")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree (size2, root2) extends (size1, root1) (RFC 9162 2.1.4.2)."""
    # An empty first tree proves nothing about the second, so it is refused rather
    # than accepted vacuously: a caller with nothing to compare should not ask.
    if size1 < 1:
        raise ProofError("size1 must be at least 1")
    if size2 < size1:
        raise ProofError(f"size2 {size2} is smaller than size1 {size1}")
    if size1 == size2:
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if root1 != root2:
            raise ProofError("sizes are equal but the roots differ")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    _check_hashes(proof, root1=root1, root2=root2)
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is a complete subtree of the new one, so its root is a path node.
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError("consistency proof does not lead to root1")
    if sr != root2:
        raise ProofError("consistency proof does not lead to root2")
