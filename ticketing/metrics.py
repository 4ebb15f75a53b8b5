"""Prometheus metrics of ticketing's hot paths."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PURCHASES = Counter(
    "mhc_ticket_purchases_total", "Ticket purchase attempts by outcome", ["outcome"]
)
PAYMENTS = Counter(
    "mhc_ticket_payment_updates_total", "Payment state changes acted on", ["outcome"]
)
VALIDATIONS = Counter("mhc_ticket_validations_total", "Ticket validations by outcome", ["outcome"])
VALIDATION_LATENCY = Histogram(
    "mhc_ticket_validation_seconds",
    "Ticket validation latency (inside the app)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
WEBHOOKS = Counter(
    "mhc_payment_webhooks_total", "Payment webhooks by type and outcome", ["type", "outcome"]
)
