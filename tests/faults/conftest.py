"""The fault-drill tier: one 3-node Kafka cluster and one PostgreSQL of its own for the
whole tier (under ``<var>/faults``, ports FIRMTEXT_KAFKA_PORT+300… and
FIRMTEXT_POSTGRES_PORT+100, so the drills never disturb the other tiers' servers), and
``firmtext up`` running 2 workers and 2 API processes on it, supervised as in
production. The drills kill and stop these servers and processes for real.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from firmtext.config import Settings
from firmtext.infra import daemon, kafka
from firmtext.infra.daemon import free_port
from firmtext.infra.services import start_infrastructure, stop_infrastructure
from firmtext.infra.state import read_components

KAFKA_OFFSET, POSTGRES_OFFSET = 300, 100


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault drills on a 3-node cluster (make faults)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Keep each phase's report on the test, for :func:`evidence_of_a_failed_drill`."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tier, and run it last: its 3-node cluster then starts after every other
    tier is done with the machine, and is removed at the end of the session."""
    drills = [item for item in items if "faults" in Path(str(item.fspath)).parts]
    for item in drills:
        item.add_marker(pytest.mark.faults)
        item.add_marker(pytest.mark.slow)
    items[:] = [item for item in items if item not in drills] + drills


@pytest.fixture(scope="session")
def cluster_settings(infra_settings: Settings) -> Settings:
    """Settings of the tier's own servers: 3 Kafka nodes, a PostgreSQL (not started yet)."""
    return infra_settings.with_overrides(
        var_dir=Path(infra_settings.var_dir).resolve() / "faults", kafka_bootstrap=None, database_url=None,
        kafka_brokers=3, kafka_port=infra_settings.kafka_port + KAFKA_OFFSET,
        kafka_controller_port=infra_settings.kafka_controller_port + KAFKA_OFFSET,
        postgres_port=infra_settings.postgres_port + POSTGRES_OFFSET, topic_replication=3)


@pytest.fixture(scope="session")
def cluster(cluster_settings: Settings, infra_settings: Settings):
    """The 3-node Kafka and the PostgreSQL, started once for the tier and removed after."""
    if cluster_settings.var_dir.exists():  # leftovers of an interrupted run: start clean
        stop_infrastructure(cluster_settings)
        shutil.rmtree(cluster_settings.var_dir, ignore_errors=True)
    # The jars of the other tiers' Kafka, not a Maven run of its own.
    shared = kafka.ensure_kafka_jars(kafka.KafkaPaths.of(infra_settings).libs)
    libs = kafka.KafkaPaths.of(cluster_settings).libs
    libs.parent.mkdir(parents=True)
    libs.symlink_to(shared.resolve())
    started = start_infrastructure(cluster_settings)
    yield started.settings
    stop_infrastructure(cluster_settings)
    shutil.rmtree(cluster_settings.var_dir, ignore_errors=True)


@dataclass
class System:
    """``firmtext up`` on the cluster: ``local`` controls the servers, ``settings`` is what
    the components use (the servers' addresses filled in)."""

    local: Settings
    settings: Settings
    process: subprocess.Popen

    def components(self) -> dict[str, dict]:
        """``up``'s current view of its components, by name (``infra status --json``)."""
        return {row["name"]: row for row in read_components(self.settings)}

    def pid(self, name: str) -> int:
        """The pid of component ``name`` once it runs (waits up to 60 s)."""
        found: dict = {}

        def running() -> bool:
            found.update(self.components().get(name) or {})
            return bool(found.get("pid")) and daemon.pid_alive(found["pid"])
        assert daemon.wait_until(running, 60, 0.2), f"{name} is not running: {found}"
        return found["pid"]

    def sigkill(self, name: str) -> int:
        """SIGKILL component ``name`` and everything it started (its process group);
        an API worker process (``api-1``) alone. Returns the pid killed."""
        pid = self.pid(name)
        if name.startswith("api-"):
            os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(pid, signal.SIGKILL)
        return pid

    def wait_running(self, name: str, not_pid: int | None = None, timeout: float = 90) -> int:
        """Wait until ``up`` reports ``name`` running again (with another pid than ``not_pid``)."""
        def back() -> bool:
            row = self.components().get(name) or {}
            return row.get("state") == "running" and row.get("pid") not in (None, not_pid)
        assert daemon.wait_until(back, timeout, 0.2), f"{name} did not come back: {self.components().get(name)}"
        return self.components()[name]["pid"]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def system(cluster: Settings, cluster_settings: Settings, infra_settings: Settings):
    """``firmtext up`` with 2 workers and 2 API processes, for the whole tier."""
    http_port = free_port()
    live = cluster.with_overrides(
        http_port=http_port, public_url=f"http://127.0.0.1:{http_port}", simulator_port=(sim := free_port()),
        twilio_api_base=f"http://127.0.0.1:{sim}", smtp_port=free_port(), carrier_rate_per_second=50.0,
        status_follow_up_seconds=3.0,
        workers=2, api_workers=2, app_id="firmtext-faults")
    env = {**os.environ, **live.as_env(), "FIRMTEXT_ENV": "development", "PYTHONUNBUFFERED": "1"}
    log = open(Path(live.var_dir) / "up.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "firmtext", "up"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    made = System(cluster_settings, live, process)
    try:
        up = lambda: all(row["state"] == "running" for row in made.components().values()) and \
            len(made.components()) >= 6 and _healthy(f"{live.public_url}/healthz")
        assert daemon.wait_until(up, 150, 0.5), \
            f"firmtext up did not get ready: {json.dumps(made.components())}\n{daemon.tail([Path(log.name)])}"
        yield made
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


EVIDENCE_DIR = "faults-evidence"  # under the test tier's var/, kept when the cluster is removed


def _keep_evidence(system: System, into: Path) -> None:
    """What a failed drill leaves to explain it: every component's log, ``up``'s log, the
    sender's tables and the simulated carrier's record of what it accepted."""
    into.mkdir(parents=True, exist_ok=True)
    logs = Path(system.settings.var_dir) / "logs"
    for log in [*logs.glob("*.log"), Path(system.settings.var_dir) / "up.log"]:
        if log.is_file():
            shutil.copy2(log, into / log.name)
    try:
        with psycopg.connect(system.settings.database_url, connect_timeout=5) as conn:
            for table in ("outbound_dispatches", "sending_lanes"):
                with conn.cursor().copy(f"COPY (SELECT * FROM {table}) TO STDOUT WITH CSV HEADER") as copy, \
                        open(into / f"{table}.csv", "wb") as out:
                    for chunk in copy:
                        out.write(chunk)
    except Exception as exc:  # evidence is best effort: PostgreSQL may be what the drill stopped
        (into / "tables.error").write_text(repr(exc))
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"{system.settings.twilio_api_base}/_sim/messages", timeout=10) as answer:
            (into / "carrier_messages.json").write_bytes(answer.read())
    except OSError as exc:
        (into / "carrier.error").write_text(repr(exc))


@pytest.fixture(autouse=True)
def evidence_of_a_failed_drill(request: pytest.FixtureRequest):
    """After a drill fails, copy its evidence out of the tier's var/ (removed with the
    cluster) into ``<test var>/faults-evidence/<test>/`` and say where."""
    yield
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    if not failed or "system" not in request.fixturenames:
        return
    system = request.getfixturevalue("system")
    into = Path(system.local.var_dir).parent / EVIDENCE_DIR / request.node.name
    _keep_evidence(system, into)
    print(f"\nevidence of the failed drill kept in {into}")
