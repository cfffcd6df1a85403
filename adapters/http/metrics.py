"""Prometheus metrics of the API process (served at /metrics)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("firmtext_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("firmtext_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.inbound_texts = Counter("firmtext_inbound_texts_total", "Inbound texts by outcome", ["outcome"],
                                     registry=self.registry)

    def watch_group_commit(self, committer) -> None:
        """Expose how well commands are being grouped (commands per batch, fallbacks)."""
        for name, attr in (("batches", "batches"), ("commands", "commands"), ("fallbacks", "fallbacks")):
            gauge = Gauge(f"firmtext_group_commit_{name}", f"group commit {name} so far", registry=self.registry)
            gauge.set_function(lambda attr=attr: getattr(committer, attr))

    def inbound(self, outcome) -> None:
        label = "duplicate" if outcome.duplicate else "dropped" if outcome.dropped else "recorded"
        self.inbound_texts.labels(label).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
