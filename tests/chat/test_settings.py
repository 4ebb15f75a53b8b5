"""Chat settings come from the same environment as the rest of the config."""

from __future__ import annotations

import pytest

from server.chat.settings import load_settings
from server.config import ConfigError
from tests.conftest import make_config
from tests.services import Services


def test_defaults_and_overrides(services: Services) -> None:
    settings = load_settings(make_config(services, MHC_PUBLIC_URL="https://live.example"))
    assert (settings.rate_burst, settings.rate_window, settings.presence_interval) == (3, 2.0, 5.0)
    assert settings.cors_origins == ("https://live.example",)
    assert settings.max_payload_bytes == 64 * 1024
    settings = load_settings(
        make_config(
            services,
            MHC_CHAT_RATE_BURST="10",
            MHC_CHAT_RATE_WINDOW="5",
            MHC_MAX_BODY_BYTES="4096",
            MHC_CHAT_CORS_ORIGINS="https://a.example/, https://b.example",
        )
    )
    assert settings.message_limit.per_second == 2.0 and settings.max_payload_bytes == 4096
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert load_settings(make_config(services, MHC_CHAT_CORS_ORIGINS="*")).cors_origins == "*"


@pytest.mark.parametrize(
    "name,value",
    [
        ("MHC_CHAT_RATE_BURST", "lots"),
        ("MHC_CHAT_RATE_WINDOW", "0"),
        ("MHC_CHAT_PRESENCE_INTERVAL", "-1"),
        ("MHC_CHAT_CHANNEL", " "),
    ],
)
def test_bad_values_name_the_variable(services: Services, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(make_config(services, **{name: value}))
