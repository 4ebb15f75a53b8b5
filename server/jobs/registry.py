"""What a process can run: the jobs and schedules each package registered at setup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from croniter import croniter

from server.jobs import config
from server.jobs.config import JobsConfig
from server.keys import CONFIG

# A job's handler gets the app and the payload it was enqueued with. It raises to ask for a
# retry, so it must be safe to run again (each one below says how it is).
Handler = Callable[[web.Application, dict[str, Any]], Awaitable[None]]
ScheduledHandler = Callable[[web.Application], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    """A named kind of work."""

    name: str
    run: Handler
    concurrency: int = 0  # how many may run at once across all workers; 0: no limit


@dataclass(frozen=True)
class Schedule:
    """Work on a clock: a 5-field cron, or 6 fields with seconds last (croniter's form)."""

    name: str
    cron: str
    run: ScheduledHandler


@dataclass
class Jobs:
    """The registry of one app, and the queue it serves."""

    config: JobsConfig
    jobs: dict[str, Job] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def entrypoint(self, name: str) -> str:
        """The queue's name for a job: processes of one queue share its work."""
        return f"{self.config.queue}.{name}"


JOBS = web.AppKey("jobs", Jobs)


def setup(app: web.Application) -> None:
    """Give the app its (empty) registry; packages' setups fill it."""
    app[JOBS] = Jobs(config.load(app[CONFIG].env))


def register(app: web.Application, name: str, run: Handler, *, concurrency: int = 0) -> None:
    """Register a job kind; its name is what `enqueue` takes."""
    jobs = app[JOBS]
    if name in jobs.jobs:
        raise ValueError(f"job {name!r} is registered twice")
    jobs.jobs[name] = Job(name, run, concurrency)


def schedule(app: web.Application, name: str, cron: str, run: ScheduledHandler) -> None:
    """Run `run` on `cron`, once per tick across all processes of the queue."""
    jobs = app[JOBS]
    if name in jobs.schedules:
        raise ValueError(f"schedule {name!r} is registered twice")
    if not croniter.is_valid(cron):
        raise ValueError(f"not a cron expression: {cron!r}")
    jobs.schedules[name] = Schedule(name, cron, run)


def every(seconds: float) -> str:
    """A cron for "about every `seconds`": exact below a minute when it divides 60, else whole
    minutes (at most hourly), since cron counts from the top of the minute and hour. Six
    fields put seconds last, as croniter (and so pgqueuer) reads them."""
    s = max(1, int(seconds))
    if s < 60:
        return f"* * * * * */{s}"
    minutes = min(60, s // 60)
    return "0 * * * * 0" if minutes >= 60 else f"*/{minutes} * * * * 0"
