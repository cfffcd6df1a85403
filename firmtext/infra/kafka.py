"""Local KRaft Kafka under ``<FIRMTEXT_VAR_DIR>/kafka`` (dev and tests): one node, or
FIRMTEXT_KAFKA_BROKERS nodes forming one cluster (layout and ports: kafka_setup.py).

Per node: ``server.properties`` (rendered every start), ``data/`` log dirs,
``logs/`` server.log + kafka.out, ``kafka.pid``; ``libs/`` (Maven jars) is shared.
"""
from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

from firmtext.config import Settings
from firmtext.infra import daemon
from firmtext.infra.daemon import InfraError
from firmtext.infra.kafka_jars import INFRA_DIR, ensure_kafka_jars, find_java
from firmtext.infra.kafka_probe import broker_ready, brokers_listed
from firmtext.infra.kafka_setup import (KafkaNode, KafkaPaths, cluster_id, format_storage, leftover_nodes, locked,
                                        nodes, render_properties)

__all__ = ["KafkaNode", "KafkaPaths", "bootstrap_of", "ensure_kafka", "ensure_kafka_jars", "nodes",
           "node_pid", "running_pid", "stop_kafka", "stop_node"]

START_TIMEOUT = 60.0
CLUSTER_START_TIMEOUT = 120.0  # three JVMs on two shared cores, and a quorum to elect
STOP_TIMEOUT = 30.0
BIND_RETRIES = 5
PORT_GRACE = 10.0


def bootstrap_of(settings: Settings) -> str:
    """The bootstrap servers of the local nodes (all of them: any one may be down)."""
    return ",".join(f"127.0.0.1:{node.port}" for node in nodes(settings))


def _pid_of(paths: KafkaPaths) -> int | None:
    pid = daemon.read_pid(paths.pid_file)
    # The pid must still be *our* Kafka: pids get reused after a reboot or crash.
    if pid and daemon.pid_alive(pid) and str(paths.properties) in daemon.cmdline(pid):
        return pid
    return None


def node_pid(node: KafkaNode) -> int | None:
    """The pid of ``node`` if it is alive."""
    return _pid_of(node.paths)


def running_pid(settings: Settings) -> int | None:
    """The pid of node 1 (the only node of a single-node setup), if it is alive."""
    return node_pid(nodes(settings)[0])


def _check_ports_free(node: KafkaNode, grace: float) -> None:
    for port, variable in ((node.port, "FIRMTEXT_KAFKA_PORT"),
                           (node.controller_port, "FIRMTEXT_KAFKA_CONTROLLER_PORT")):
        # After a crash of our broker the kernel may hold its sockets a moment longer; a
        # port held by a client socket (the ephemeral range) and not listened on is freed
        # within moments too. Only a stranger's listener is refused at once.
        wait = grace if daemon.port_listened(port) else max(grace, PORT_GRACE)
        if not daemon.wait_until(lambda: not daemon.port_in_use(port), wait, interval=0.2):
            raise InfraError(
                f"Port {port} on 127.0.0.1 is already taken by a process that is not "
                f"firmtext's Kafka; free it or set {variable} to another port.\n{node.paths.log_tail()}")


def _spawn(settings: Settings, node: KafkaNode, cluster: list[KafkaNode]) -> int:
    java, paths = find_java(), node.paths
    render_properties(node, cluster)
    format_storage(java, node, cluster)
    command = [
        java, f"-Xms{settings.kafka_heap}", f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true", f"-Dkafka.logs.dir={paths.logs}",
        f"-Dlog4j2.configurationFile={INFRA_DIR / 'log4j2.xml'}",
        "-cp", f"{paths.libs}/*", "kafka.Kafka", str(paths.properties),
    ]
    with open(paths.logs / "kafka.out", "ab") as out:
        # Own session: Ctrl-C in the terminal of `firmtext up` must not reach the
        # broker before the components that use it have stopped.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                   cwd=paths.root, start_new_session=True)
    paths.pid_file.write_text(f"{process.pid}\n")
    return process.pid


def _lost_its_port(node: KafkaNode) -> bool:
    """True if ``node`` died because its port was taken meanwhile: the local ports sit in
    Linux's ephemeral range (32768-60999), so a client socket may hold one for a moment."""
    return "Address already in use" in daemon.tail([node.paths.logs / "server.log"], 60)


def _wait_serving(settings: Settings, cluster: list[KafkaNode], pids: dict[int, int],
                  spawned: list[KafkaNode]) -> None:
    timeout = START_TIMEOUT if len(cluster) == 1 else CLUSTER_START_TIMEOUT
    retries = dict.fromkeys(pids, 0)

    def up() -> bool:
        for node in cluster:
            if daemon.pid_alive(pids[node.node_id]):
                continue
            if node in spawned and retries[node.node_id] < BIND_RETRIES and _lost_its_port(node):
                retries[node.node_id] += 1
                daemon.wait_until(lambda: False, 1.0)  # let the borrowed port go
                pids[node.node_id] = _spawn(settings, node, cluster)
                continue
            raise InfraError(f"{node.name} exited while starting.\n{node.paths.log_tail()}")
        if not all(broker_ready("127.0.0.1", node.port) for node in cluster):
            return False
        # Every node registered, so a topic can get all its replicas at once.
        return brokers_listed("127.0.0.1", cluster[0].port) >= len(cluster)

    if not daemon.wait_until(up, timeout, interval=0.25):
        waiting = [node for node in cluster if not broker_ready("127.0.0.1", node.port)] or cluster
        raise InfraError(f"Kafka ({', '.join(n.name for n in waiting)}) did not answer on 127.0.0.1:"
                         f"{waiting[0].port} within {timeout:.0f} s.\n{waiting[0].paths.log_tail()}")


def _stop_paths(paths: KafkaPaths, timeout: float) -> bool:
    pid = _pid_of(paths)
    if pid is not None:
        daemon.terminate(pid, timeout)
    paths.pid_file.unlink(missing_ok=True)
    return pid is not None


def ensure_kafka(settings: Settings) -> str:
    """Bootstrap servers for ``settings``: FIRMTEXT_KAFKA_BOOTSTRAP if set, else the local
    node(s) under the var dir, started (or reused if already running) and serving.

    Only the nodes that are down are started: after a SIGKILL of one node of three
    this brings that one back and leaves the others alone.
    """
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    cluster = nodes(settings)
    with locked(cluster[0].paths):
        for stale in leftover_nodes(settings):  # a run with another FIRMTEXT_KAFKA_BROKERS
            _stop_paths(stale, STOP_TIMEOUT)
        pids, starting = {}, []
        for node in cluster:
            pid = node_pid(node)
            if pid is None:
                crashed = node.paths.pid_file.exists()  # a stale pid file: crash or reboot
                node.paths.pid_file.unlink(missing_ok=True)
                _check_ports_free(node, grace=10.0 if crashed else 0.0)
                for directory in (node.paths.data, node.paths.logs):
                    directory.mkdir(parents=True, exist_ok=True)
                starting.append(node)
            elif f"PLAINTEXT://127.0.0.1:{node.port}," not in node.paths.properties.read_text():
                raise InfraError(f"The Kafka under {node.paths.root} already runs (pid {pid}) on "
                                 "another port than FIRMTEXT_KAFKA_PORT; stop it with "
                                 "`firmtext infra stop`.")
            pids[node.node_id] = pid
        if starting:
            ensure_kafka_jars(cluster[0].paths.libs)
            cluster_id(cluster)  # chosen once, before the nodes format in parallel
            # Formatting runs a JVM per node: in parallel, like the nodes themselves.
            with ThreadPoolExecutor(max_workers=len(starting)) as pool:
                spawned = pool.map(lambda node: _spawn(settings, node, cluster), starting)
                pids.update(zip((node.node_id for node in starting), spawned))
        try:
            _wait_serving(settings, cluster, pids, starting)
        except BaseException:
            for node in starting:  # all or nothing: no half-started cluster is left behind
                _stop_paths(node.paths, STOP_TIMEOUT)
            raise
    return bootstrap_of(settings)


def stop_node(settings: Settings, node: KafkaNode, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop one node of the local cluster (for drills); True if it ran."""
    with locked(node.paths):
        return _stop_paths(node.paths, timeout)


def stop_kafka(settings: Settings, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop every local node of this var dir (SIGTERM, SIGKILL after ``timeout`` s), those of
    an earlier run with another node count too; True if any ran."""
    if settings.kafka_bootstrap:
        return False
    cluster = nodes(settings)
    with locked(cluster[0].paths):
        every = [node.paths for node in cluster] + leftover_nodes(settings)
        with ThreadPoolExecutor(max_workers=len(every)) as pool:
            return any(list(pool.map(lambda paths: _stop_paths(paths, timeout), every)))
