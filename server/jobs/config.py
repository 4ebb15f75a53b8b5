"""Job queue settings from the merged environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from server.config import ConfigError, env_number

_QUEUE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass(frozen=True)
class JobsConfig:
    """Whether this process runs workers, which queue it serves, and the retry policy."""

    worker: bool = True
    queue: str = "mhc"
    max_attempts: int = 10
    retry_seconds: float = 5.0
    max_retry_seconds: float = 600.0
    concurrency: int = 10


def load(env: Mapping[str, str]) -> JobsConfig:
    """Read MHC_JOBS_*; ConfigError names a bad variable."""
    worker = env.get("MHC_JOBS_WORKER", "on").strip().lower()
    if worker not in ("on", "off"):
        raise ConfigError(f"MHC_JOBS_WORKER must be 'on' or 'off', got {worker!r}")
    queue = env.get("MHC_JOBS_QUEUE", "mhc").strip()
    if not _QUEUE.match(queue):
        raise ConfigError(
            "MHC_JOBS_QUEUE must be 1-31 lowercase letters, digits or _ (starting with a letter)"
        )
    return JobsConfig(
        worker=worker == "on",
        queue=queue,
        max_attempts=env_number(env, "MHC_JOBS_MAX_ATTEMPTS", 10, 1, 100, int),
        retry_seconds=env_number(env, "MHC_JOBS_RETRY_SECONDS", 5.0, 0.1, 3600.0, float),
        max_retry_seconds=env_number(env, "MHC_JOBS_MAX_RETRY_SECONDS", 600.0, 1.0, 86400.0, float),
        concurrency=env_number(env, "MHC_JOBS_CONCURRENCY", 10, 1, 1000, int),
    )
