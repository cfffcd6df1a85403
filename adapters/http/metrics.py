"""Prometheus metrics of the API process (served at /metrics)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("firmtext_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("firmtext_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.inbound_texts = Counter("firmtext_inbound_texts_total", "Inbound texts by outcome", ["outcome"],
                                     registry=self.registry)

    def inbound(self, outcome) -> None:
        label = "duplicate" if outcome.duplicate else "dropped" if outcome.dropped else "recorded"
        self.inbound_texts.labels(label).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
