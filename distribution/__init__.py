"""Label distribution: releases to the DSPs over SFTP, acknowledgements, royalty reports."""

from __future__ import annotations

from aiohttp import web

from distribution import delivery


def setup(app: web.Application) -> None:
    """Plug the distribution routes, jobs and schedules in."""
    delivery.setup(app)
