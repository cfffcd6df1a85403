"""Supervision degrades, never collapses (issue 8): a worker forced into a crash loop by a
bad setting leaves /healthz answering and inbound texts accepted, is shown as degraded
with the reason, and recovers by itself once the setting is fixed, while the API and
the relay run on untouched. Real components on the tier's cluster, own database/topic."""
from __future__ import annotations

import shlex
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from firmtext.infra import daemon, postgres
from firmtext.infra.daemon import free_port
from firmtext.infra.stack import Stack, firmtext_command
from firmtext.infra.supervisor import DEGRADED_AFTER, Supervisor
from tests.e2e.harness import Firm, eventually


@pytest.fixture
def isolated(cluster, tmp_path: Path):
    """The cluster's servers, a database and topic of this test's own."""
    name = f"ft_{uuid.uuid4().hex[:12]}"
    server = postgres.server_url(cluster)
    url = postgres.create_database(server, name)
    http_port, sim_port = free_port(), free_port()
    yield cluster.with_overrides(
        database_url=url, events_topic=f"firmtext.events.{name}", app_id=f"firmtext-{name}",
        http_port=http_port, public_url=f"http://127.0.0.1:{http_port}", simulator_port=sim_port,
        twilio_api_base=f"http://127.0.0.1:{sim_port}", smtp_port=free_port(), workers=1, api_workers=1,
        media_dir=tmp_path / "media")
    postgres.drop_database(server, name)


async def test_a_worker_in_a_crash_loop_degrades_alone_and_recovers_by_itself(isolated, tmp_path: Path):
    cause = tmp_path / "bad-setting"
    cause.write_text("FIRMTEXT_CARRIER_RATE=fast\n")  # not a number: the real worker refuses to start

    def command(name: str) -> list[str]:
        if name != "worker":
            return firmtext_command(name)
        real = " ".join(shlex.quote(part) for part in firmtext_command(name))
        return ["sh", "-c", f"if [ -e {shlex.quote(str(cause))} ]; then export $(cat {shlex.quote(str(cause))}); fi; "
                            f"exec {real}"]

    stack = Stack(isolated, command=command, log_dir=tmp_path / "logs",
                  extra_env={"FIRMTEXT_ENV": "development"})
    said: list[str] = []
    supervisor = Supervisor(stack, ["simulator", "api", "relay", "worker"], report=said.append,
                            stable_after=3, backoff_cap=4)
    stop = threading.Event()

    def supervise() -> None:
        while not stop.is_set():
            supervisor.poll()
            stop.wait(0.2)
    watcher = threading.Thread(target=supervise, daemon=True)
    try:
        stack.start(["migrate"])
        supervisor.start()
        watcher.start()
        worker = supervisor.health["worker"]
        assert daemon.wait_until(lambda: worker.state == "degraded", 90, 0.2), said
        assert worker.failures >= DEGRADED_AFTER and "FIRMTEXT_CARRIER_RATE" in worker.reason
        api_pid, relay_pid = stack.pid("api"), stack.pid("relay")

        async with httpx.AsyncClient(base_url=isolated.public_url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200
            firm = await Firm(isolated, http).setup()
            await firm.text_in("+15557654321", "accepted while the worker crash-loops")
            assert worker.state in ("degraded", "starting") and worker.restarts >= DEGRADED_AFTER

            cause.unlink()  # the operator fixes the setting; nobody restarts anything by hand
            assert await eventually(lambda: _async(worker.state == "running"), timeout=60)
            conv = await firm.conversation_with("+15557654321")
            assert conv["last_message"]["body"] == "accepted while the worker crash-loops"
        assert (stack.pid("api"), stack.pid("relay")) == (api_pid, relay_pid)  # never restarted
        assert supervisor.health["api"].restarts == supervisor.health["relay"].restarts == 0
        assert any("DEGRADED" in line for line in said) and any("running again" in line for line in said)
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(5)
        stack.stop()


async def _async(value):
    return value

