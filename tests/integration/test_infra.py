"""The local infrastructure and the process supervisor, against real servers."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from firmtext.config import Settings
from firmtext.infra import daemon, kafka, postgres
from firmtext.infra.daemon import InfraError, free_port
from firmtext.infra.kafka_probe import broker_ready
from firmtext.infra.postgres_cluster import ClusterPaths
from firmtext.infra.stack import ComponentFailed, Ready, Stack, firmtext_command


async def test_kafka_produce_consume_round_trip(kafka_bootstrap: str) -> None:
    topic = f"infra-test.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"hello": "kafka"}', key=b"firm-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=f"g-{topic}",
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"firm-1", b'{"hello": "kafka"}')


def test_postgres_reachable(database_url: str, infra_settings: Settings) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        assert name.startswith("ft_")
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY)")
        conn.execute("INSERT INTO probe VALUES (1)")
        assert conn.execute("SELECT count(*) FROM probe").fetchone()[0] == 1
        if not infra_settings.database_url:  # our own cluster: our settings apply
            assert conn.execute("SHOW max_connections").fetchone()[0] == "200"


def test_ensure_reuses_running_servers(infra_settings: Settings, kafka_bootstrap: str,
                                       postgres_server_url: str) -> None:
    if infra_settings.kafka_bootstrap or infra_settings.database_url:
        pytest.skip("servers are external")
    kafka_pid = kafka.running_pid(infra_settings)
    pg_pid = postgres.running_pid(ClusterPaths.of(infra_settings))
    began = time.monotonic()
    assert kafka.ensure_kafka(infra_settings) == kafka_bootstrap
    assert postgres.ensure_postgres(infra_settings, "postgres") == postgres_server_url
    assert time.monotonic() - began < 2.0
    assert kafka.running_pid(infra_settings) == kafka_pid
    assert postgres.running_pid(ClusterPaths.of(infra_settings)) == pg_pid


# --- the supervisor, with tiny stand-in components --------------------------------

def _dummy(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _programs(tmp_path: Path, web_port: int) -> dict[str, list[str]]:
    return {
        "migrate": _dummy("print('migrated the schema')"),
        "bad-migrate": _dummy("import sys; print('boom: relation missing'); sys.exit(3)"),
        "crash": _dummy("import sys; print('cannot reach kafka'); sys.exit(2)"),
        "loop": _dummy("import time\nwhile True: time.sleep(1)"),
        "web": _dummy(f"""
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200 if self.path == '/healthz' else 404); self.end_headers()
            http.server.HTTPServer(('127.0.0.1', {web_port}), H).serve_forever()"""),
        # Ignores SIGTERM, so stop() waits for it before it gets to the others.
        "stubborn": _dummy("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True: time.sleep(1)"""),
        # Leaves a grandchild that ignores SIGTERM: stop() must still remove it.
        "spawner": _dummy(f"""
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, '-c',
                'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])
            open({str(tmp_path / 'grandchild.pid')!r}, 'w').write(str(child.pid))
            time.sleep(600)"""),
    }


@pytest.fixture
def dummy_stack(tmp_path: Path):
    port = free_port()
    programs = _programs(tmp_path, port)
    settings = Settings(var_dir=tmp_path)
    readiness = {"web": Ready(url=f"http://127.0.0.1:{port}/healthz", timeout=20)}
    made = Stack(settings, command=programs.__getitem__, readiness=readiness,
                 log_dir=tmp_path / "logs", stop_timeout=3, one_shot={"migrate", "bad-migrate"})
    yield made
    made.stop()


def test_stack_restarts_a_component_killed_with_sigkill(dummy_stack: Stack) -> None:
    dummy_stack.start(["migrate", "web", "loop"])
    assert "migrated the schema" in dummy_stack.log_tail("migrate")
    assert not dummy_stack.is_running("migrate") and dummy_stack.is_running("loop")
    for name in ("loop", "web"):
        before = dummy_stack.pid(name)
        dummy_stack.kill(name, signal.SIGKILL)
        assert not dummy_stack.is_running(name)
        assert dummy_stack.exited()[name] == -signal.SIGKILL
        dummy_stack.restart(name)
        assert dummy_stack.is_running(name) and dummy_stack.pid(name) != before
    assert dummy_stack.readiness["web"].check()
    dummy_stack.stop()
    assert not dummy_stack.is_running("web") and not dummy_stack.is_running("loop")


def test_failed_migrate_stops_the_start_with_its_log(dummy_stack: Stack) -> None:
    with pytest.raises(ComponentFailed, match="(?s)bad-migrate exited with status 3.*boom: relation missing"):
        dummy_stack.start(["bad-migrate", "loop"])
    assert "loop" not in dummy_stack.children


def test_component_dying_while_starting_is_reported(dummy_stack: Stack) -> None:
    with pytest.raises(ComponentFailed, match="(?s)crash exited with status 2.*cannot reach kafka"):
        dummy_stack.start(["loop", "crash"])
    assert not dummy_stack.is_running("loop")  # all or nothing


def test_stop_leaves_no_orphans(dummy_stack: Stack, tmp_path: Path) -> None:
    # The stubborn component holds stop() for its whole timeout, long after the
    # spawner died of the SIGTERM every component gets first: its grandchild must
    # still be swept (it was left running whenever the spawner died that early).
    dummy_stack.start(["spawner", "stubborn"])
    pid_file = tmp_path / "grandchild.pid"
    assert daemon.wait_until(lambda: pid_file.exists() and pid_file.read_text(), 10)
    grandchild = int(pid_file.read_text())
    assert daemon.pid_alive(grandchild)
    dummy_stack.stop()
    assert not dummy_stack.is_running("stubborn")
    assert daemon.wait_until(lambda: not daemon.pid_alive(grandchild), 5)


def test_real_components_run_as_python_modules() -> None:
    assert firmtext_command("api") == [sys.executable, "-m", "firmtext", "api"]


# --- crash drills on throwaway servers (own var dir and ports) --------------------

@pytest.fixture
def drill_settings(infra_settings: Settings):
    """Settings for a private Kafka/PostgreSQL under <var>/drills/<hex>, removed afterwards."""
    root = Path(infra_settings.var_dir).resolve() / "drills" / uuid.uuid4().hex[:8]
    made = Settings(var_dir=root, kafka_port=free_port(), kafka_controller_port=free_port(),
                    postgres_port=free_port())
    yield made
    kafka.stop_kafka(made)
    postgres.stop_postgres(made)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_kafka_starts_again_after_kill_9(drill_settings: Settings, infra_settings: Settings) -> None:
    shared_libs = kafka.KafkaPaths.of(infra_settings).libs
    kafka.ensure_kafka_jars(shared_libs)
    (drill_settings.var_dir / "kafka").mkdir(parents=True)
    (drill_settings.var_dir / "kafka" / "libs").symlink_to(shared_libs.resolve())
    bootstrap = kafka.ensure_kafka(drill_settings)
    first = kafka.running_pid(drill_settings)
    os.kill(first, signal.SIGKILL)
    assert daemon.wait_until(lambda: not daemon.pid_alive(first), 10)
    assert kafka.ensure_kafka(drill_settings) == bootstrap
    assert kafka.running_pid(drill_settings) not in (None, first)
    assert broker_ready("127.0.0.1", drill_settings.kafka_port)
    assert kafka.stop_kafka(drill_settings) and kafka.running_pid(drill_settings) is None


@pytest.mark.slow
def test_postgres_starts_again_after_kill_9(drill_settings: Settings) -> None:
    url = postgres.ensure_postgres(drill_settings, "drill", fast=True)
    paths = ClusterPaths.of(drill_settings)
    first = postgres.running_pid(paths)
    os.kill(first, signal.SIGKILL)
    assert daemon.wait_until(lambda: not daemon.pid_alive(first), 10)
    assert postgres.ensure_postgres(drill_settings, "drill", fast=True) == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert postgres.stop_postgres(drill_settings)


def test_port_taken_by_a_stranger_is_named(drill_settings: Settings) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", drill_settings.kafka_port))
        stranger.listen()
        with pytest.raises(InfraError, match=f"Port {drill_settings.kafka_port} .*FIRMTEXT_KAFKA_PORT"):
            kafka.ensure_kafka(drill_settings)
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", drill_settings.postgres_port))
        stranger.listen()
        with pytest.raises(InfraError, match=f"Port {drill_settings.postgres_port} .*FIRMTEXT_POSTGRES_PORT"):
            postgres.ensure_postgres(drill_settings)


# --- supervision that degrades and never collapses (issue 8) ------------------------

class _Clock:
    """A clock the test moves by hand, so backoffs of seconds take no time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_supervisor_restarts_a_crash_loop_with_capped_backoff_and_keeps_the_others(tmp_path: Path) -> None:
    from firmtext.infra.supervisor import Supervisor

    cause = tmp_path / "kafka-unreachable"
    cause.touch()
    flaky = _dummy(f"""
        import os, sys, time
        if os.path.exists({str(cause)!r}):
            print('cannot reach kafka'); sys.exit(2)
        while True: time.sleep(1)""")
    programs = {"flaky": flaky, "loop": _dummy("import time\nwhile True: time.sleep(1)")}
    stack = Stack(Settings(var_dir=tmp_path), command=programs.__getitem__, readiness={},
                  log_dir=tmp_path / "logs", stop_timeout=3)
    clock, said = _Clock(), []
    supervisor = Supervisor(stack, ["flaky", "loop"], report=said.append, clock=clock, stable_after=10,
                            backoff_cap=8)
    try:
        supervisor.start()
        steady = stack.pid("loop")
        delays = []
        for _ in range(6):
            assert daemon.wait_until(lambda: not stack.is_running("flaky"), 10)
            supervisor.poll()
            health = supervisor.health["flaky"]
            delays.append(health.next_start - clock.now)
            clock.now = health.next_start
            supervisor.poll()  # due: spawned again
        assert delays == [1, 2, 4, 8, 8, 8]  # exponential, capped, and never a give-up
        rows = {row["name"]: row for row in supervisor.rows()}
        assert rows["flaky"]["state"] == "degraded" and rows["flaky"]["restarts"] == 6
        assert rows["flaky"]["last_exit"] == 2 and "cannot reach kafka" in rows["flaky"]["reason"]
        assert any("DEGRADED" in line and "cannot reach kafka" in line for line in said)
        assert stack.pid("loop") == steady and rows["loop"]["state"] == "running"  # untouched
        assert daemon.wait_until(lambda: not stack.is_running("flaky"), 10)
        supervisor.poll()
        cause.unlink()  # the cause goes away: it recovers by itself, on the next restart
        clock.now = supervisor.health["flaky"].next_start
        supervisor.poll()
        assert not daemon.wait_until(lambda: not stack.is_running("flaky"), 1.0)  # it stays up
        clock.now += 11
        supervisor.poll()
        assert supervisor.health["flaky"].state == "running" and supervisor.health["flaky"].failures == 0
        assert any("running again" in line for line in said)
    finally:
        stack.stop()


def test_three_nodes_get_their_own_ports_directories_and_one_quorum(tmp_path: Path) -> None:
    from firmtext.infra.kafka_setup import nodes, render_properties

    settings = Settings(var_dir=tmp_path, kafka_port=33092, kafka_controller_port=33093, kafka_brokers=3)
    cluster = nodes(settings)
    assert [(n.name, n.port, n.controller_port) for n in cluster] == [
        ("kafka-1", 33092, 33093), ("kafka-2", 33192, 33193), ("kafka-3", 33292, 33293)]
    assert len({n.paths.root for n in cluster}) == 3 and len({n.paths.libs for n in cluster}) == 1
    assert kafka.bootstrap_of(settings) == "127.0.0.1:33092,127.0.0.1:33192,127.0.0.1:33292"
    cluster[1].paths.root.mkdir(parents=True)
    render_properties(cluster[1], cluster)
    rendered = dict(line.split("=", 1) for line in cluster[1].paths.properties.read_text().splitlines()
                    if line and not line.startswith("#"))
    assert rendered["node.id"] == "2"
    assert rendered["controller.quorum.voters"] == "1@127.0.0.1:33093,2@127.0.0.1:33193,3@127.0.0.1:33293"
    assert rendered["default.replication.factor"] == rendered["offsets.topic.replication.factor"] == "3"
    assert rendered["min.insync.replicas"] == rendered["transaction.state.log.min.isr"] == "2"
    assert Settings.from_env({"FIRMTEXT_KAFKA_BROKERS": "3"}, secrets=False).topic_replication == 3
    single = Settings(var_dir=tmp_path, kafka_port=33092, kafka_controller_port=33093)
    assert [n.paths.root for n in nodes(single)] == [tmp_path.resolve() / "kafka"]  # the layout of before


def test_a_cluster_id_starting_with_a_dash_still_formats_a_node(tmp_path):
    """An id that starts with "-" (1 in 64 of the ids an earlier release made) was read by
    kafka-storage as an option, so `make run` with 3 brokers failed at once (found by hand)."""
    from firmtext.infra.kafka_jars import ensure_kafka_jars, find_java
    from firmtext.infra.kafka_setup import KafkaPaths, format_storage, nodes, render_properties

    settings = Settings(var_dir=tmp_path, kafka_port=free_port(), kafka_controller_port=free_port(), kafka_brokers=3)
    cluster = nodes(settings)
    shared = Path(__file__).resolve().parents[2] / "var" / "test" / "kafka" / "libs"
    libs = KafkaPaths.of(settings).libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    libs.symlink_to(ensure_kafka_jars(shared).resolve())
    (libs.parent / "cluster-3.id").write_text("-AFpEf22SrK4JC1EBFy3pg\n")
    cluster[0].paths.data.mkdir(parents=True, exist_ok=True)
    render_properties(cluster[0], cluster)
    format_storage(find_java(), cluster[0], cluster)
    assert "cluster.id=-AFpEf22SrK4JC1EBFy3pg" in (cluster[0].paths.data / "meta.properties").read_text()
