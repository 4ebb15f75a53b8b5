"""The committed ABI and bytecode are what the pinned compiler makes of the committed sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CONTRACTS = Path(__file__).resolve().parents[2] / "ledger" / "contracts"


def test_committed_artifacts_rebuild_identically(tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are required (Debian: apt-get install nodejs npm)"
    if not (CONTRACTS / "node_modules" / "solc" / "package.json").is_file():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CONTRACTS,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    out = tmp_path / "build"
    result = subprocess.run(
        [node, "build.js", str(out)],
        cwd=CONTRACTS,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"build failed:\n{result.stderr}"
    assert result.stderr == "", f"the compiler warned:\n{result.stderr}"

    committed = CONTRACTS / "build"
    names = sorted(p.relative_to(committed) for p in committed.rglob("*.json"))
    assert names == sorted(p.relative_to(out) for p in out.rglob("*.json"))
    assert Path("RoyaltyMirror.json") in names
    for name in names:
        assert (out / name).read_bytes() == (committed / name).read_bytes(), (
            f"{name} differs from a fresh build: run `npm ci && node build.js` in "
            "ledger/contracts and commit the result"
        )
