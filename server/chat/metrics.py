"""Prometheus metrics of the chat's hot paths."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("mhc_chat_connections", "Socket.IO connections open in this process")
CONNECTS = Counter(
    "mhc_chat_connects_total", "Socket.IO connection attempts by outcome", ["outcome"]
)
EVENTS = Counter(
    "mhc_chat_events_total", "Client events handled, by event and outcome", ["event", "outcome"]
)
HANDLE_SECONDS = Histogram(
    "mhc_chat_event_seconds",
    "Time to handle a client event, by event",
    ["event"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
PERSISTED = Counter("mhc_chat_messages_persisted_total", "Messages written to PostgreSQL")
PERSIST_DROPPED = Counter(
    "mhc_chat_messages_dropped_total", "Messages the writer gave up on (bad rows or a full buffer)"
)
BATCH_SIZE = Histogram(
    "mhc_chat_persist_batch_size",
    "Messages per PostgreSQL batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500),
)
VIEWER_BROADCASTS = Counter("mhc_chat_viewer_broadcasts_total", "Viewer-count broadcasts sent")
