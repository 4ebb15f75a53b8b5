"""Media processing: recordings to HLS VOD replays (PyAV, without re-encoding).

Public face: `setup(app)` registers replay packaging on the job queue; `media.replays`
answers where an event's replay is (`state`) for the packages that grant access to it.
"""

from __future__ import annotations

from media.replays import setup

__all__ = ["setup"]
