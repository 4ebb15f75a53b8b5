"""Media processing: recordings to HLS VOD replays (PyAV, without re-encoding)."""
