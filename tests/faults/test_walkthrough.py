"""Issue 10's acceptance: the README's "Try it" walkthrough works unchanged on 3 Kafka
nodes, 2 workers and 2 API processes (the drills' ``firmtext up``), and
``firmtext infra status --json`` lists the 3 brokers and the 2 workers.

The commands are read from README.md itself, so the test follows the README; only the
API's address is the drill system's instead of localhost:8000.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from firmtext.infra import daemon

ROOT = Path(__file__).resolve().parents[2]


def try_it_commands() -> str:
    """The shell block under README.md's "## Try it", a second between commands as when
    someone types them (the inbox shows a text a moment after it arrives)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```\n(.*?)```", readme.split("## Try it", 1)[1], re.S).group(1)
    commands = re.sub(r"\\\n", " ", block).strip().splitlines()
    return "\nsleep 1\n".join(commands)


def run(system, script: str) -> subprocess.CompletedProcess:
    # The drill system's addresses, but not FIRMTEXT_ENV: a new terminal has none, so the
    # walkthrough must say it itself (it did not, and `firmtext token` refused to start).
    env = {**system.settings.as_env(), "PATH": "/usr/bin:/bin"}
    env.pop("FIRMTEXT_ENV")
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_readme_walkthrough_works_on_three_brokers_and_two_workers(system):
    port = system.settings.http_port
    script = try_it_commands().replace("localhost:8000", f"127.0.0.1:{port}")
    assert script.count(f"127.0.0.1:{port}") >= 6, "the walkthrough no longer talks to the API"
    done = run(system, script + '\necho; echo "walkthrough: $CONV $TOKEN"')
    assert done.returncode == 0, f"the walkthrough failed:\n{done.stdout}\n{done.stderr}"
    print(done.stdout)
    conversation, token = done.stdout.strip().splitlines()[-1].split()[1:]

    def delivered() -> bool:  # the last line asks for the thread; the reply is delivered a moment later
        r = httpx.get(f"{system.settings.public_url}/v1/conversations/{conversation}/messages",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return any(m["direction"] == "outbound" and m["status"] == "delivered" for m in r.json()["messages"])
    assert daemon.wait_until(delivered, 30, 0.5), "the walkthrough's reply never showed as delivered"


def test_infra_status_lists_three_brokers_and_two_workers(system):
    # As an operator runs it: the same FIRMTEXT_* as `firmtext up` was started with (3 brokers).
    env = {**system.local.as_env(), "FIRMTEXT_ENV": "development"}
    done = subprocess.run([sys.executable, "-m", "firmtext", "infra", "status", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    brokers = [s for s in status["servers"] if s["kind"] == "kafka" and s["state"] == "running"]
    workers = [c for c in status["components"] if c["name"].startswith("worker-") and c["state"] == "running"]
    assert len(brokers) == 3 and len({b["port"] for b in brokers}) == 3, status["servers"]
    assert len(workers) == 2 and all(w["pid"] for w in workers), status["components"]
    apis = [c for c in status["components"] if c["name"].startswith("api-")]
    assert len(apis) == 2, status["components"]
