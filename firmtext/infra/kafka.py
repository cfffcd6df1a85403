"""A local single-node KRaft Kafka under ``<FIRMTEXT_VAR_DIR>/kafka`` (dev and tests).

Layout: ``libs/`` jars (Maven), ``server.properties`` (rendered every start),
``data/`` log dirs, ``logs/`` server.log + kafka.out, ``kafka.pid``.
"""
from __future__ import annotations

import subprocess

from firmtext.config import Settings
from firmtext.infra import daemon
from firmtext.infra.daemon import InfraError
from firmtext.infra.kafka_jars import INFRA_DIR, ensure_kafka_jars, find_java
from firmtext.infra.kafka_probe import broker_ready
from firmtext.infra.kafka_setup import KafkaPaths, format_storage, locked, render_properties

__all__ = ["KafkaPaths", "ensure_kafka", "ensure_kafka_jars", "running_pid", "stop_kafka"]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def running_pid(settings: Settings) -> int | None:
    """The pid of the broker we started for this var dir, if it is alive."""
    paths = KafkaPaths.of(settings)
    pid = daemon.read_pid(paths.pid_file)
    # The pid must still be *our* Kafka: pids get reused after a reboot or crash.
    if pid and daemon.pid_alive(pid) and str(paths.properties) in daemon.cmdline(pid):
        return pid
    return None


def _check_ports_free(settings: Settings, paths: KafkaPaths, grace: float) -> None:
    for port, variable in ((settings.kafka_port, "FIRMTEXT_KAFKA_PORT"),
                           (settings.kafka_controller_port, "FIRMTEXT_KAFKA_CONTROLLER_PORT")):
        # After a crash of our broker the kernel may hold its sockets a moment longer.
        if not daemon.wait_until(lambda: not daemon.port_in_use(port), grace, interval=0.2):
            raise InfraError(
                f"Port {port} on 127.0.0.1 is already taken by a process that is not "
                f"firmtext's Kafka; free it or set {variable} to another port.\n{paths.log_tail()}")


def _spawn(settings: Settings, paths: KafkaPaths) -> int:
    java = find_java()
    render_properties(settings, paths)
    format_storage(java, paths)
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


def _wait_serving(settings: Settings, paths: KafkaPaths, pid: int) -> None:
    def up() -> bool:
        if not daemon.pid_alive(pid):
            raise InfraError(f"Kafka exited while starting.\n{paths.log_tail()}")
        return broker_ready("127.0.0.1", settings.kafka_port)

    if not daemon.wait_until(up, START_TIMEOUT, interval=0.25):
        raise InfraError(f"Kafka did not answer on 127.0.0.1:{settings.kafka_port} within "
                         f"{START_TIMEOUT:.0f} s.\n{paths.log_tail()}")


def ensure_kafka(settings: Settings) -> str:
    """Bootstrap servers for ``settings``: FIRMTEXT_KAFKA_BOOTSTRAP if set, else a local
    broker under the var dir, started (or reused if already running) and serving."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    paths = KafkaPaths.of(settings)
    with locked(paths):
        pid = running_pid(settings)
        if pid is None:
            crashed = paths.pid_file.exists()  # a stale pid file: crash or reboot
            paths.pid_file.unlink(missing_ok=True)
            _check_ports_free(settings, paths, grace=10.0 if crashed else 0.0)
            for directory in (paths.data, paths.logs):
                directory.mkdir(parents=True, exist_ok=True)
            ensure_kafka_jars(paths.libs)
            pid = _spawn(settings, paths)
        elif f"PLAINTEXT://127.0.0.1:{settings.kafka_port}," not in paths.properties.read_text():
            raise InfraError(f"The Kafka under {paths.root} already runs (pid {pid}) on another "
                             "port than FIRMTEXT_KAFKA_PORT; stop it with `firmtext infra stop`.")
        _wait_serving(settings, paths, pid)
    return f"127.0.0.1:{settings.kafka_port}"


def stop_kafka(settings: Settings, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the local broker (SIGTERM, SIGKILL after ``timeout`` s); True if one ran."""
    if settings.kafka_bootstrap:
        return False
    paths = KafkaPaths.of(settings)
    with locked(paths):
        pid = running_pid(settings)
        if pid is not None:
            daemon.terminate(pid, timeout)
        paths.pid_file.unlink(missing_ok=True)
    return pid is not None
