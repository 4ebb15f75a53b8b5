"""The audit trail's settings come through the one loader, env file included, and are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics import config
from server.config import ConfigError, load_config

SECRETS = {n: "s" * 40 for n in ("MHC_JWT_SECRET", "MHC_PLAYBACK_SECRET", "MHC_HOOK_SECRET")}


def test_scheduler_switch_is_read_from_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "mhc.env"
    env_file.write_text("MHC_FORENSIC_SCHEDULER=off\n")
    assert not config.load(load_config({**SECRETS, "MHC_ENV_FILE": str(env_file)})).scheduler
    assert config.load(load_config(SECRETS)).scheduler
    # The process environment wins over the file, as for every other variable.
    on = load_config({**SECRETS, "MHC_ENV_FILE": str(env_file), "MHC_FORENSIC_SCHEDULER": "on"})
    assert config.load(on).scheduler


@pytest.mark.parametrize("value", ["of", "disabled", "no way"])
def test_unknown_scheduler_switch_is_refused(value: str) -> None:
    """A misspelt 'off' must not leave the job running in every process unnoticed."""
    with pytest.raises(ConfigError, match="MHC_FORENSIC_SCHEDULER"):
        config.load(load_config({**SECRETS, "MHC_FORENSIC_SCHEDULER": value}))
