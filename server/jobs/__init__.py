"""One PostgreSQL-backed job queue (pgqueuer) for all work that follows a commit or a clock.

A package registers its jobs and schedules in its `setup(app)` (`register`, `schedule`), and
enqueues work with `enqueue(app, conn, name, payload)` inside the transaction whose change
needs it: the job exists if and only if the change committed (the outbox). Workers run the
jobs with retries and backoff; a job that keeps failing is held as failed for an operator
(`mhc jobs`, `mhc jobs retry ID`). Each queued job and each scheduled tick runs in one worker
across all processes. Workers run inside `mhc serve` unless MHC_JOBS_WORKER=off, and as
`mhc worker` processes.
"""

from __future__ import annotations

from server.jobs.queue import enqueue, enqueue_many, install
from server.jobs.registry import JOBS, Handler, Jobs, ScheduledHandler, register, schedule, setup
from server.jobs.worker import start_worker

__all__ = [
    "JOBS",
    "Handler",
    "Jobs",
    "ScheduledHandler",
    "enqueue",
    "enqueue_many",
    "install",
    "register",
    "schedule",
    "setup",
    "start_worker",
]
