"""Label distribution: uploads checked and coded (ISRC, UPC), DDEX ERN 4.3 messages built and
validated per store and handed to delivery, and the stores' royalty reports ingested into the
ledger.

Public face for the other half of the package and for other packages:
- `releases.owner(conn, id)`, `releases.owners(conn, isrcs)`, `releases.pipeline(conn, id)`;
- `package.ReleasePackage` (what delivery receives through `delivery.enqueue`);
- `royalties.ingest_file(app, dsp, path)`.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from distribution import config, delivery, pipeline
from distribution.keys import DECODES, DIST_CONFIG
from distribution.routes import routes
from distribution.royalties import monthly
from server import jobs
from server.keys import CONFIG


def setup(app: web.Application) -> None:
    """Validate the settings and plug the routes, the build job and the monthly routine in."""
    cfg = config.load(app[CONFIG])
    app[DIST_CONFIG] = cfg
    app[DECODES] = asyncio.Semaphore(cfg.uploads_in_flight)
    app.router.add_routes(routes)
    jobs.register(app, pipeline.BUILD_JOB, pipeline.build_job)
    jobs.schedule(app, monthly.SCHEDULE, monthly.CRON, monthly.monthly_job)
    delivery.setup(app)
