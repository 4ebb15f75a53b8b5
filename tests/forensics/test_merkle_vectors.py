"""RFC 6962/9162 Merkle proofs against the transparency-dev probes and random trees."""

from __future__ import annotations

import base64
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from forensics.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_from_inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

SHARED = Path(
    os.environ.get("MHC_SHARED_DIR") or Path(__file__).resolve().parents[2].parent / "shared"
)
PROBES = SHARED / "testdata" / "merkle"
INCLUSION = sorted((PROBES / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((PROBES / "consistency").rglob("*.json"))


def _probe(path: Path) -> dict[str, Any]:
    """Load a probe, decoding its base64 fields ('' and null stay empty)."""
    probe: dict[str, Any] = json.loads(path.read_text())
    for name in ("root", "leafHash", "root1", "root2"):
        if name in probe:
            probe[name] = base64.b64decode(probe[name])
    probe["proof"] = [base64.b64decode(p) for p in probe["proof"] or []]
    return probe


def _id(path: Path) -> str:
    """Name a probe by its path under the probe directory."""
    return str(path.relative_to(PROBES))


def test_probes_are_present() -> None:
    """The vectors must be found: an empty parametrization would pass silently."""
    assert len(INCLUSION) > 50, f"no inclusion probes under {PROBES}"
    assert len(CONSISTENCY) > 50, f"no consistency probes under {PROBES}"


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_probe(path: Path) -> None:
    """The verifier accepts exactly the inclusion probes that do not want an error."""
    p = _probe(path)
    args = (p["leafIdx"], p["treeSize"], p["leafHash"], p["proof"], p["root"])
    if p["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_probe(path: Path) -> None:
    """The verifier accepts exactly the consistency probes that do not want an error."""
    p = _probe(path)
    args = (p["size1"], p["size2"], p["proof"], p["root1"], p["root2"])
    if p["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def _mth(leaves: list[bytes]) -> bytes:
    """Compute MTH straight from the RFC's recursive definition."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _flip(data: bytes, rng: random.Random) -> bytes:
    """Return data with one random bit flipped."""
    i = rng.randrange(len(data))
    return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]


@pytest.fixture(scope="module")
def tree() -> tuple[MerkleTree, list[bytes]]:
    """A 300-leaf tree over random entries, and its leaf hashes."""
    rng = random.Random(6962)
    leaves = [leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(300)]
    return MerkleTree(leaves), leaves


def test_known_roots() -> None:
    """The RFC 6962 test tree's roots at sizes 1..8 match the probes' roots."""
    entries = (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
    t = MerkleTree(leaf_hashes(bytes.fromhex(e) for e in entries))
    assert t.root(8).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert t.root(1) == leaf_hash(b"")
    assert t.root(0) == EMPTY_ROOT == root_hash([])


def test_roots_match_the_definition(tree: tuple[MerkleTree, list[bytes]]) -> None:
    """Roots at every size equal MTH computed recursively, and appending agrees."""
    t, leaves = tree
    grown = MerkleTree()
    for n in range(1, len(leaves) + 1):
        grown.append(leaves[n - 1])
        assert t.root(n) == _mth(leaves[:n]) == grown.root()
    assert root_hash(leaves) == t.root()


def test_inclusion_proofs(tree: tuple[MerkleTree, list[bytes]]) -> None:
    """Every inclusion proof of every size verifies; a flipped bit anywhere fails."""
    t, leaves = tree
    rng = random.Random(1)
    for n in range(1, len(leaves) + 1):
        root = t.root(n)
        for i in range(n):
            proof = t.inclusion_proof(i, n)
            verify_inclusion(i, n, leaves[i], proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(i, n, _flip(leaves[i], rng), proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(i, n, leaves[i], proof, _flip(root, rng))
            if proof:
                bad = list(proof)
                k = rng.randrange(len(bad))
                bad[k] = _flip(bad[k], rng)
                with pytest.raises(ProofError):
                    verify_inclusion(i, n, leaves[i], bad, root)
                with pytest.raises(ProofError):
                    verify_inclusion(i, n, leaves[i], proof[:-1], root)
            with pytest.raises(ProofError):
                verify_inclusion(i, n, leaves[i], [*proof, root], root)
    assert inclusion_proof(leaves[:7], 3) == t.inclusion_proof(3, 7)


def test_inclusion_at_wrong_position_fails(tree: tuple[MerkleTree, list[bytes]]) -> None:
    """A proof does not verify for another index, or a size that changes its shape.

    Sizes with the same shape around the leaf (here 65..128) give the same root, which
    is fine: a checkpoint signs the size together with the root.
    """
    t, leaves = tree
    proof = t.inclusion_proof(5, 100)
    root = t.root(100)
    assert root_from_inclusion_proof(5, 100, leaves[5], proof) == root
    for index, size in ((4, 100), (6, 100), (5, 64), (5, 129), (100, 100)):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[5], proof, root)


def test_consistency_proofs(tree: tuple[MerkleTree, list[bytes]]) -> None:
    """Every consistency proof between sizes verifies; a flipped bit anywhere fails."""
    t, leaves = tree
    rng = random.Random(2)
    roots = [b""] + [t.root(n) for n in range(1, len(leaves) + 1)]
    for n in range(1, len(leaves) + 1):
        for m in range(1, n + 1):
            proof = t.consistency_proof(m, n)
            verify_consistency(m, n, proof, roots[m], roots[n])
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof, _flip(roots[m], rng), roots[n])
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof, roots[m], _flip(roots[n], rng))
            if proof:
                bad = list(proof)
                k = rng.randrange(len(bad))
                bad[k] = _flip(bad[k], rng)
                with pytest.raises(ProofError):
                    verify_consistency(m, n, bad, roots[m], roots[n])
                with pytest.raises(ProofError):
                    verify_consistency(m, n, proof[:-1], roots[m], roots[n])
    assert consistency_proof(leaves[:9], 4) == t.consistency_proof(4, 9)


def test_consistency_with_wrong_sizes_fails(tree: tuple[MerkleTree, list[bytes]]) -> None:
    """A proof does not verify for sizes that change its shape; nonsense sizes are refused."""
    t, _ = tree
    proof = t.consistency_proof(13, 77)
    verify_consistency(13, 77, proof, t.root(13), t.root(77))
    for m, n in ((12, 77), (14, 77), (13, 64), (13, 129), (0, 77), (77, 13)):
        with pytest.raises(ProofError):
            verify_consistency(m, n, proof, t.root(13), t.root(77))
    with pytest.raises(ValueError):
        t.consistency_proof(0, 10)
    with pytest.raises(ValueError):
        t.inclusion_proof(10, 10)
    with pytest.raises(ValueError):
        t.root(301)


def test_bad_leaf_hash_length_is_refused() -> None:
    """Leaf hashes must be 32 bytes."""
    with pytest.raises(ValueError):
        MerkleTree([b"short"])
