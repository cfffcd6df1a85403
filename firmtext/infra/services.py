"""Kafka and PostgreSQL together: start both in parallel, stop, report status."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from firmtext.config import Settings
from firmtext.infra import kafka, postgres
from firmtext.infra.postgres_cluster import ClusterPaths

SERVICES = ("kafka", "postgres")


@dataclass(frozen=True)
class Infrastructure:
    """What :func:`start_infrastructure` produced: settings whose ``kafka_bootstrap`` and
    ``database_url`` are filled in, and which local servers this call started."""

    settings: Settings
    started: tuple[str, ...]


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``firmtext infra status``."""

    name: str  # "kafka" (one node) or "kafka-1" … "kafka-N", "postgres"
    state: str  # "running", "stopped" or "external"
    address: str
    pid: int | None
    directory: Path | None
    port: int | None = None
    service: str = ""  # which of SERVICES it belongs to

    def as_json(self) -> dict:
        """The ``infra status --json`` row (API.md "Operations": name, pid, port, state)."""
        return {"name": self.name, "pid": self.pid, "port": self.port, "state": self.state,
                "kind": self.service, "address": self.address,
                "directory": str(self.directory) if self.directory else None}


def status(settings: Settings) -> list[ServiceStatus]:
    """Where each server is and whether the local one runs (no network calls): one row
    per Kafka node, then PostgreSQL."""
    result = []
    if settings.kafka_bootstrap:
        result.append(ServiceStatus("kafka", "external", settings.kafka_bootstrap, None, None,
                                    service="kafka"))
    else:
        for node in kafka.nodes(settings):
            pid = kafka.node_pid(node)
            result.append(ServiceStatus(node.name, "running" if pid else "stopped",
                                        f"127.0.0.1:{node.port}", pid, node.paths.root, node.port, "kafka"))
    if settings.database_url:
        result.append(ServiceStatus("postgres", "external", settings.database_url, None, None,
                                    service="postgres"))
    else:
        paths = ClusterPaths.of(settings)
        pid = postgres.running_pid(paths)
        result.append(ServiceStatus("postgres", "running" if pid else "stopped",
                                    postgres.server_url(settings, "firmtext"), pid, paths.root,
                                    settings.postgres_port, "postgres"))
    return result


def service_states(settings: Settings) -> dict[str, str]:
    """Per service (kafka, postgres): "running" only if every node of it runs."""
    found: dict[str, set[str]] = {}
    for item in status(settings):
        found.setdefault(item.service, set()).add(item.state)
    return {name: "running" if states == {"running"} else
            "external" if "external" in states else "stopped" for name, states in found.items()}


def start_infrastructure(settings: Settings, database: str = "firmtext") -> Infrastructure:
    """Ensure Kafka and PostgreSQL (in parallel); on failure, stop what this call started."""
    before = service_states(settings)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="infra") as pool:
        bootstrap = pool.submit(kafka.ensure_kafka, settings)
        database_url = pool.submit(postgres.ensure_postgres, settings, database)
    after = service_states(settings)
    started = tuple(name for name in SERVICES if before[name] == "stopped" and after[name] == "running")
    try:
        ready = settings.with_overrides(kafka_bootstrap=bootstrap.result(),
                                        database_url=database_url.result())
    except BaseException:
        stop_infrastructure(settings, started)
        raise
    return Infrastructure(ready, started)


def stop_infrastructure(settings: Settings, services: tuple[str, ...] = SERVICES) -> list[str]:
    """Stop the named local servers (external ones are left alone); returns those stopped."""
    stopped = []
    if "kafka" in services and kafka.stop_kafka(settings):
        stopped.append("kafka")
    if "postgres" in services and postgres.stop_postgres(settings):
        stopped.append("postgres")
    return stopped
