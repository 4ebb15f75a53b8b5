"""Prometheus metrics of the core's hot paths."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_LATENCY = Histogram(
    "mhc_http_request_seconds",
    "HTTP request latency by route",
    ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
AUTH_DECISIONS = Counter(
    "mhc_auth_decisions_total", "Authentication and authorization decisions", ["kind", "decision"]
)
PUBLISHES = Counter("mhc_rtmp_publish_total", "RTMP publish attempts by outcome", ["outcome"])
GATE_DECISIONS = Counter("mhc_playback_gate_total", "HLS gate decisions", ["decision"])
