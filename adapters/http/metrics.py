"""Prometheus metrics of the API process (served at /metrics)."""
from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

RELAY_STATES = ("active", "standby", "failing", "stale", "unknown")


class RelayCollector:
    """The outbox relay's state, read when Prometheus scrapes (never raises)."""

    def __init__(self, report: Callable[[], object | None]) -> None:
        self.report = report

    def collect(self):
        try:
            report = self.report()
        except Exception:  # PostgreSQL away: say nothing rather than fail the scrape
            report = None
        state = GaugeMetricFamily("firmtext_relay_state", "1 for the outbox relay's current state", labels=["state"])
        lag = GaugeMetricFamily("firmtext_relay_lag_events", "stored events not yet published to Kafka")
        aside = GaugeMetricFamily("firmtext_relay_set_aside_events", "stored events the log refused for good")
        if report is not None:
            for name in RELAY_STATES:
                state.add_metric([name], 1.0 if report.state == name else 0.0)
            lag.add_metric([], report.lag)
            aside.add_metric([], report.set_aside)
        return [state, lag, aside]


class MeasuredRequests:
    """ASGI middleware counting every HTTP request by method, route and status, and timing
    it by route. Plain ASGI (not Starlette's BaseHTTPMiddleware, which runs every request
    through an extra task group and memory streams: a large share of a webhook's CPU)."""

    def __init__(self, app, metrics: Callable[[], "ApiMetrics"]) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500  # what the error handler answers if the app raises

        async def sent(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, sent)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            metrics = self.metrics()
            metrics.requests.labels(scope["method"], path, str(status)).inc()
            metrics.latency.labels(path).observe(time.perf_counter() - started)


class UnknownEventsCollector:
    """Events the projection worker skipped because no projection knows their type or
    schema version, per (type, version), read when Prometheus scrapes (never raises)."""

    def __init__(self, report: Callable[[], list[dict]]) -> None:
        self.report = report

    def collect(self):
        try:
            rows = self.report()
        except Exception:  # PostgreSQL away: say nothing rather than fail the scrape
            rows = []
        family = CounterMetricFamily("firmtext_projection_unknown_events",
                                     "events no projection knows (skipped), by type and schema version",
                                     labels=["type", "version"])
        for row in rows:
            family.add_metric([row["event_type"], row["schema_version"]], row["events"])
        return [family]


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

    def watch_relay(self, report: Callable[[], object | None]) -> None:
        """Expose the relay's state, lag and set-aside count at every scrape."""
        self.registry.register(RelayCollector(report))

    def watch_unknown_events(self, report: Callable[[], list[dict]]) -> None:
        """Expose the projection worker's count of unknown events at every scrape."""
        self.registry.register(UnknownEventsCollector(report))

    def inbound(self, outcome) -> None:
        label = "duplicate" if outcome.duplicate else "dropped" if outcome.dropped else "recorded"
        self.inbound_texts.labels(label).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
