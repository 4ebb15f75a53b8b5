"""Prometheus metrics of delivery to the DSPs."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ATTEMPTS = Counter(
    "mhc_distribution_delivery_attempts_total",
    "Batch delivery attempts by DSP and outcome (delivered, retry, failed, host_key_mismatch)",
    ["dsp", "outcome"],
)
BYTES_SENT = Counter(
    "mhc_distribution_bytes_sent_total",
    "Bytes uploaded to the DSPs (resumed parts excluded)",
    ["dsp"],
)
ATTEMPT_SECONDS = Histogram(
    "mhc_distribution_delivery_seconds",
    "Duration of a batch delivery attempt",
    ["dsp"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800),
)
ACKS = Counter(
    "mhc_distribution_acks_total",
    "Acknowledgement files read, by DSP and what they did (acknowledged, rejected, live, "
    "unreadable)",
    ["dsp", "result"],
)
REPORTS = Counter("mhc_distribution_reports_fetched_total", "Report files fetched", ["dsp"])
