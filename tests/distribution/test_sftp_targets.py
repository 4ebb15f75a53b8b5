"""DSP targets from the environment: enabled only when configured, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from distribution.targets import DSPS, load, parse_host_key
from server.config import ConfigError


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "id"
    path.write_text("not checked until a connection is made\n")
    return path


HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _env(key_file: Path, **extra: str) -> dict[str, str]:
    base = {
        "MHC_DSP_TIDAL_HOST": "sftp.tidal.example",
        "MHC_DSP_TIDAL_USER": "label",
        "MHC_DSP_TIDAL_KEY_FILE": str(key_file),
        "MHC_DSP_TIDAL_HOST_KEY": HOST_KEY,
        "MHC_DSP_TIDAL_PARTY_ID": "PADPIDA2013020802I",
    }
    base.update({f"MHC_DSP_TIDAL_{k}": v for k, v in extra.items()})
    return base


def test_no_target_is_enabled_by_default() -> None:
    assert load({}).targets == {}
    assert len(DSPS) == 8


def test_a_configured_target(key_file: Path) -> None:
    cfg = load(_env(key_file, PORT="2222", ROOT="/incoming/", REPORTS="/reports"))
    [target] = cfg.targets.values()
    assert (target.code, target.name, target.host, target.port) == (
        "tidal",
        "Tidal",
        "sftp.tidal.example",
        2222,
    )
    assert (target.root, target.reports, target.party_id) == (
        "/incoming",
        "/reports",
        "PADPIDA2013020802I",
    )
    assert target.host_key_fingerprint.startswith("SHA256:")
    # a known_hosts line gives the same key
    line = load(_env(key_file, HOST_KEY=f"[sftp.tidal.example]:2222 {HOST_KEY}"))
    assert line.targets["tidal"].host_key.asbytes() == target.host_key.asbytes()
    assert "KEY_PASSPHRASE" not in repr(target) and "host_key=" not in repr(target)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"USER": ""}, "MHC_DSP_TIDAL_USER"),
        ({"HOST_KEY": ""}, "MHC_DSP_TIDAL_HOST_KEY"),
        ({"HOST_KEY": "ssh-ed25519 not-base64!"}, "MHC_DSP_TIDAL_HOST_KEY"),
        ({"HOST_KEY": "ssh-dss AAAAB3NzaC1kc3M="}, "MHC_DSP_TIDAL_HOST_KEY"),
        ({"HOST_KEY": "ssh-rsa " + HOST_KEY.split()[1]}, "MHC_DSP_TIDAL_HOST_KEY"),
        ({"KEY_FILE": "/nonexistent/key"}, "MHC_DSP_TIDAL_KEY_FILE"),
        ({"PARTY_ID": "spotify"}, "MHC_DSP_TIDAL_PARTY_ID"),
        ({"PORT": "0"}, "MHC_DSP_TIDAL_PORT"),
        ({"PORT": "ssh"}, "MHC_DSP_TIDAL_PORT"),
        ({"ROOT": "incoming"}, "MHC_DSP_TIDAL_ROOT"),
        ({"ROOT": "/a/../b"}, "MHC_DSP_TIDAL_ROOT"),
        ({"REPORTS": "/r/.."}, "MHC_DSP_TIDAL_REPORTS"),
        ({"HOST": "bad host; rm"}, "MHC_DSP_TIDAL_HOST"),
    ],
)
def test_bad_settings_are_named(key_file: Path, change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load(_env(key_file, **change))


@pytest.mark.parametrize(
    "text", ["", "AAAA", "ssh-ed25519", "ssh-ed25519 AAAA", "ecdsa-sha2-nistp256 AAAA"]
)
def test_parse_host_key_refuses_what_is_not_a_key(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host_key(text)
