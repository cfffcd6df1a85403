"""Files of the local Kafka: nodes and their paths, the lock, server.properties, storage format.

One node (FIRMTEXT_KAFKA_BROKERS=1) lives in ``<var>/kafka`` itself, as it always did.
N nodes live in ``<var>/kafka/node-1`` … ``node-N``, share one cluster id
(``<var>/kafka/cluster-N.id``) and one 3-voter (N-voter) controller quorum. Node ``n``
listens on FIRMTEXT_KAFKA_PORT + 100·(n-1) and FIRMTEXT_KAFKA_CONTROLLER_PORT + 100·(n-1):
33092/33093, 33192/33193, 33292/33293 for a base of 33092. The jars are shared.
"""
from __future__ import annotations

import base64
import fcntl
import subprocess
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Iterator

from firmtext.config import Settings
from firmtext.infra import daemon
from firmtext.infra.daemon import InfraError
from firmtext.infra.kafka_jars import INFRA_DIR


NODE_PORT_STEP = 100


@dataclass(frozen=True)
class KafkaPaths:
    """Files of one local Kafka node (``root``); ``libs`` is shared by every node."""

    root: Path

    libs = property(lambda self: _kafka_root(self.root) / "libs")
    data = property(lambda self: self.root / "data")
    logs = property(lambda self: self.root / "logs")
    properties = property(lambda self: self.root / "server.properties")
    pid_file = property(lambda self: self.root / "kafka.pid")

    @classmethod
    def of(cls, settings: Settings) -> "KafkaPaths":
        """The paths of node 1 (the only node of a single-node setup) for ``settings.var_dir``."""
        return nodes(settings)[0].paths

    def log_tail(self, lines: int = 20) -> str:
        """The end of the broker's newest log file."""
        return daemon.tail([self.logs / "server.log", self.logs / "kafka.out"], lines)


def _kafka_root(node_root: Path) -> Path:
    return node_root.parent if node_root.name.startswith("node-") else node_root


@dataclass(frozen=True)
class KafkaNode:
    """One KRaft node (broker and controller in one JVM): its id, ports and files."""

    node_id: int
    port: int
    controller_port: int
    paths: KafkaPaths

    @property
    def name(self) -> str:
        """``kafka`` for a single node, ``kafka-<n>`` in a cluster (status, logs, drills)."""
        return "kafka" if self.paths.root.name == "kafka" else f"kafka-{self.node_id}"


def nodes(settings: Settings, count: int | None = None) -> list[KafkaNode]:
    """The local nodes for ``settings`` (``count`` overrides FIRMTEXT_KAFKA_BROKERS)."""
    count = settings.kafka_brokers if count is None else count
    root = Path(settings.var_dir).resolve() / "kafka"
    if count == 1:
        return [KafkaNode(1, settings.kafka_port, settings.kafka_controller_port, KafkaPaths(root))]
    return [KafkaNode(n, settings.kafka_port + NODE_PORT_STEP * (n - 1),
                      settings.kafka_controller_port + NODE_PORT_STEP * (n - 1),
                      KafkaPaths(root / f"node-{n}")) for n in range(1, count + 1)]


def leftover_nodes(settings: Settings) -> list[KafkaPaths]:
    """Node directories of this var dir that the current setting does not use (an earlier
    run with another FIRMTEXT_KAFKA_BROKERS): they are stopped before a start."""
    root = Path(settings.var_dir).resolve() / "kafka"
    current = {node.paths.root for node in nodes(settings)}
    found = [KafkaPaths(root)] + [KafkaPaths(p) for p in sorted(root.glob("node-*"))]
    return [paths for paths in found if paths.root not in current and paths.pid_file.exists()]


@contextmanager
def locked(paths: KafkaPaths) -> Iterator[None]:
    """Hold the broker directory's exclusive lock."""
    # Two processes (make test's `infra start` and a pytest fixture, say) must not
    # both format or start the same broker. One lock for all nodes of a var dir.
    root = _kafka_root(paths.root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def render_properties(node: KafkaNode, cluster: list[KafkaNode]) -> None:
    """Write server.properties from the template (every start, so port changes apply).

    Replication follows the cluster's size: 3 nodes give every topic (internal ones
    too) 3 replicas and require 2 in sync for an acks=all write.
    """
    template = Template((INFRA_DIR / "server.properties.template").read_text())
    replicas = min(3, len(cluster))
    node.paths.properties.write_text(template.substitute(
        node_id=node.node_id, port=node.port, controller_port=node.controller_port,
        voters=",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster),
        replication=replicas, min_isr=min(2, replicas), data_dir=node.paths.data))


def _new_cluster_id() -> str:
    """22 characters of URL-safe base64, never starting with "-" (as Kafka's own
    Uuid.randomUuid avoids: a command line would read it as an option)."""
    while True:
        new = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not new.startswith("-"):
            return new


def cluster_id(cluster: list[KafkaNode]) -> str:
    """A single node gets a new id; the nodes of a cluster share one, kept beside them
    (or read back from a node that was formatted with it)."""
    new = _new_cluster_id()
    if len(cluster) == 1:
        return new
    stored = _kafka_root(cluster[0].paths.root) / f"cluster-{len(cluster)}.id"
    if stored.is_file():
        return stored.read_text().strip()
    for node in cluster:
        meta = node.paths.data / "meta.properties"
        if meta.is_file():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    new = line.split("=", 1)[1].strip()
    stored.write_text(new + "\n")
    return new


def format_storage(java: str, node: KafkaNode, cluster: list[KafkaNode]) -> None:
    """Format the KRaft log dir with the cluster id, once (skipped if meta.properties exists)."""
    paths = node.paths
    if (paths.data / "meta.properties").exists():
        return  # formatted once; formatting again would refuse or wipe the cluster id
    shared_id = cluster_id(cluster)
    done = subprocess.run(
        [java, "-cp", f"{paths.libs}/*", f"-Dlog4j2.configurationFile={INFRA_DIR / 'log4j2.xml'}",
         f"-Dkafka.logs.dir={paths.logs}", "kafka.tools.StorageTool", "format",
         # "=": an id stored by an earlier release may start with "-"
         f"--cluster-id={shared_id}", f"--config={paths.properties}"],
        capture_output=True, text=True)
    if done.returncode != 0:
        raise InfraError(f"formatting Kafka storage in {paths.data} failed:\n{done.stdout}{done.stderr}")
