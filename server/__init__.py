"""MHC Live core: HTTP API, nginx hooks, playback gate and the `mhc` CLI."""
