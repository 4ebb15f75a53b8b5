"""MHC_CHAIN_* settings: off unless set, complete or refused, secrets kept out of repr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from ledger import chain
from server.config import ConfigError, load_config

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # a valid EIP-55 checksum


def config(tmp_path: Path, **env: str) -> chain.ChainConfig | None:
    base = {
        "MHC_JWT_SECRET": "j" * 32,
        "MHC_PLAYBACK_SECRET": "p" * 32,
        "MHC_HOOK_SECRET": "h" * 32,
        "MHC_STATE_DIR": str(tmp_path / "state"),
    }
    return chain.load(load_config({**base, **env}))


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "owner.key"
    path.write_text("0x" + "11" * 32 + "\n")
    return path


def full(key_file: Path, **env: str) -> dict[str, str]:
    return {
        "MHC_CHAIN_RPC_URL": "https://node.example/v3/api-key-123",
        "MHC_CHAIN_CONTRACT": ADDRESS,
        "MHC_CHAIN_KEY_FILE": str(key_file),
        **env,
    }


def test_off_unless_configured(tmp_path: Path) -> None:
    assert config(tmp_path) is None


def test_full_setup(tmp_path: Path, key_file: Path) -> None:
    cfg = config(
        tmp_path, **full(key_file, MHC_CHAIN_CONFIRMATIONS="12", MHC_CHAIN_CONTRACT=ADDRESS.lower())
    )
    assert cfg is not None
    assert cfg.contract == ADDRESS
    assert cfg.confirmations == 12
    assert cfg.private_key == b"\x11" * 32
    assert cfg.owner == Account.from_key(b"\x11" * 32).address
    assert "11" * 32 not in repr(cfg) and "api-key-123" not in repr(cfg)
    assert config(tmp_path, **full(key_file)).confirmations == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("drop", ["MHC_CHAIN_RPC_URL", "MHC_CHAIN_CONTRACT", "MHC_CHAIN_KEY_FILE"])
def test_partial_setup_names_what_is_missing(tmp_path: Path, key_file: Path, drop: str) -> None:
    env = full(key_file)
    del env[drop]
    with pytest.raises(ConfigError, match=drop):
        config(tmp_path, **env)


def test_confirmations_alone_is_a_partial_setup(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MHC_CHAIN_RPC_URL"):
        config(tmp_path, MHC_CHAIN_CONFIRMATIONS="3")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MHC_CHAIN_RPC_URL", "ftp://node", "MHC_CHAIN_RPC_URL must start"),
        ("MHC_CHAIN_CONTRACT", "0x1234", "MHC_CHAIN_CONTRACT must be"),
        ("MHC_CHAIN_CONTRACT", ADDRESS[:-1] + "A", "bad checksum"),
        ("MHC_CHAIN_CONFIRMATIONS", "0", "MHC_CHAIN_CONFIRMATIONS must be between"),
        ("MHC_CHAIN_CONFIRMATIONS", "two", "MHC_CHAIN_CONFIRMATIONS must be a number"),
        ("MHC_CHAIN_KEY_FILE", "/nonexistent/owner.key", "MHC_CHAIN_KEY_FILE cannot be read"),
    ],
)
def test_bad_values_are_named(
    tmp_path: Path, key_file: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, **full(key_file, **{name: value}))


def test_key_file_must_hold_a_key(tmp_path: Path, key_file: Path) -> None:
    key_file.write_text("not a key\n")
    with pytest.raises(ConfigError, match="32-byte hex private key") as caught:
        config(tmp_path, **full(key_file))
    assert "not a key" not in str(caught.value)
    for outside_the_curve in ("00" * 32, "ff" * 32):
        key_file.write_text(outside_the_curve)
        with pytest.raises(ConfigError, match="no valid secp256k1 private key"):
            config(tmp_path, **full(key_file))


def test_rpc_url_may_come_from_a_file(tmp_path: Path, key_file: Path) -> None:
    url_file = tmp_path / "rpc"
    url_file.write_text("http://127.0.0.1:8545\n")
    env = full(key_file, MHC_CHAIN_RPC_URL_FILE=str(url_file))
    del env["MHC_CHAIN_RPC_URL"]
    cfg = config(tmp_path, **env)
    assert cfg is not None and cfg.rpc_url == "http://127.0.0.1:8545"


def test_loading_the_client_keeps_deep_nesting_an_error() -> None:
    """web3's py_ecc raises the recursion limit process-wide; the forensic verifier's deeply
    nested line must still be a reported error in a process that loaded the chain client,
    not a crash."""
    code = (
        "import ledger.chain\n"
        "from forensics.chain import verify_lines\n"
        "print(verify_lines([b'[' * 1_000_000])[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "malformed record" in result.stdout
