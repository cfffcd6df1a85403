"""Files of the local Kafka: paths, the lock, server.properties, storage format."""
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


@dataclass(frozen=True)
class KafkaPaths:
    """Files of the local broker for one var dir."""

    root: Path

    libs = property(lambda self: self.root / "libs")
    data = property(lambda self: self.root / "data")
    logs = property(lambda self: self.root / "logs")
    properties = property(lambda self: self.root / "server.properties")
    pid_file = property(lambda self: self.root / "kafka.pid")

    @classmethod
    def of(cls, settings: Settings) -> "KafkaPaths":
        """The paths for ``settings.var_dir``."""
        return cls(Path(settings.var_dir).resolve() / "kafka")

    def log_tail(self, lines: int = 20) -> str:
        """The end of the broker's newest log file."""
        return daemon.tail([self.logs / "server.log", self.logs / "kafka.out"], lines)


@contextmanager
def locked(paths: KafkaPaths) -> Iterator[None]:
    """Hold the broker directory's exclusive lock."""
    # Two processes (make test's `infra start` and a pytest fixture, say) must not
    # both format or start the same broker.
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def render_properties(settings: Settings, paths: KafkaPaths) -> None:
    """Write server.properties from the template (every start, so port changes apply)."""
    template = Template((INFRA_DIR / "server.properties.template").read_text())
    paths.properties.write_text(template.substitute(
        port=settings.kafka_port, controller_port=settings.kafka_controller_port,
        data_dir=paths.data))


def format_storage(java: str, paths: KafkaPaths) -> None:
    """Format the KRaft log dir with a new cluster id, once (skipped if meta.properties exists)."""
    if (paths.data / "meta.properties").exists():
        return  # formatted once; formatting again would refuse or wipe the cluster id
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    done = subprocess.run(
        [java, "-cp", f"{paths.libs}/*", f"-Dlog4j2.configurationFile={INFRA_DIR / 'log4j2.xml'}",
         f"-Dkafka.logs.dir={paths.logs}", "kafka.tools.StorageTool", "format",
         "-t", cluster_id, "-c", str(paths.properties)],
        capture_output=True, text=True)
    if done.returncode != 0:
        raise InfraError(f"formatting Kafka storage in {paths.data} failed:\n{done.stdout}{done.stderr}")
