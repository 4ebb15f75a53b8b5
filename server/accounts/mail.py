"""Outgoing mail over SMTP (aiosmtplib), and the password-reset settings that use it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib
from aiohttp import web

from server.config import Config, ConfigError, env_number, env_value


@dataclass(frozen=True)
class MailConfig:
    """Where mail goes out and whom it is from; the password stays out of repr."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "MHC Live <no-reply@localhost>"
    tls: str = "none"  # none | starttls | tls (implicit, usually port 465)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 20.0
    reset_url: str = "http://127.0.0.1:8000/reset-password"
    reset_minutes: int = 30
    forgot_per_hour_ip: int = 10
    forgot_per_hour_email: int = 3
    reset_per_hour_ip: int = 20


MAIL_CONFIG = web.AppKey("mail_config", MailConfig)


def load(core: Config, env: Mapping[str, str] | None = None) -> MailConfig:
    """MHC_SMTP_* and MHC_PASSWORD_RESET_URL, or ConfigError naming the bad one."""
    e = dict(core.env if env is None else env)
    tls = e.get("MHC_SMTP_TLS", "none").strip().lower()
    if tls not in ("none", "starttls", "tls"):
        raise ConfigError("MHC_SMTP_TLS must be none, starttls or tls")
    reset_url = e.get("MHC_PASSWORD_RESET_URL", "").strip() or (
        core.public_url.rstrip("/") + "/reset-password"
    )
    if not reset_url.startswith(("http://", "https://")):
        raise ConfigError("MHC_PASSWORD_RESET_URL must start with http:// or https://")
    sender = e.get("MHC_SMTP_FROM", "").strip() or MailConfig.sender
    if "\n" in sender or "\r" in sender:
        raise ConfigError("MHC_SMTP_FROM must be one line")
    return MailConfig(
        host=e.get("MHC_SMTP_HOST", "").strip() or "127.0.0.1",
        port=env_number(e, "MHC_SMTP_PORT", 25, 1, 65535, int),
        sender=sender,
        tls=tls,
        user=e.get("MHC_SMTP_USER", "").strip() or None,
        password=env_value(e, "MHC_SMTP_PASSWORD") or None,
        timeout=env_number(e, "MHC_SMTP_TIMEOUT", 20.0, 1.0, 300.0, float),
        reset_url=reset_url,
        reset_minutes=env_number(e, "MHC_PASSWORD_RESET_MINUTES", 30, 5, 24 * 60, int),
        forgot_per_hour_ip=env_number(e, "MHC_PASSWORD_FORGOT_PER_HOUR_IP", 10, 1, 100_000, int),
        forgot_per_hour_email=env_number(e, "MHC_PASSWORD_FORGOT_PER_HOUR_EMAIL", 3, 1, 1000, int),
        reset_per_hour_ip=env_number(e, "MHC_PASSWORD_RESET_PER_HOUR_IP", 20, 1, 100_000, int),
    )


async def send(cfg: MailConfig, to: str, subject: str, text: str) -> None:
    """Send one plain-text message (raises on failure, so a job retries)."""
    message = EmailMessage()
    message["From"] = cfg.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    await aiosmtplib.send(
        message,
        hostname=cfg.host,
        port=cfg.port,
        username=cfg.user,
        password=cfg.password,
        use_tls=cfg.tls == "tls",
        start_tls=cfg.tls == "starttls",
        timeout=cfg.timeout,
    )
