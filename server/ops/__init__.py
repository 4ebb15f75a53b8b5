"""Health, readiness, metrics and the OpenAPI document."""
