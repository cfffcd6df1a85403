"""``firmtext up`` (what ``make run`` runs): Kafka, PostgreSQL and every component,
in the foreground, until Ctrl-C."""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from firmtext.config import Settings

def instructions(settings: Settings, cli: str = "firmtext", firm_number: str = "+15550000000") -> str:
    """What ``up`` prints once everything is ready: URLs, the dev secret, a walkthrough.

    Kept in one place so the wording can change without touching the supervisor.
    """
    api = f"http://127.0.0.1:{settings.http_port}"
    auth = '-H "Authorization: Bearer $TOKEN"'
    json = "-H 'Content-Type: application/json'"
    return f"""
firmtext is up.
  API          {api}   (OpenAPI {api}/openapi.json, health {api}/healthz)
  Carrier sim  http://127.0.0.1:{settings.simulator_port}   (calls webhooks at {settings.public_url})
  Kafka        {settings.kafka_bootstrap}   topic {settings.events_topic}
  PostgreSQL   {settings.database_url}
  Logs         {settings.var_dir}/logs/*.log, {settings.var_dir}/kafka/logs, {settings.var_dir}/postgres/logs
  JWT secret   {settings.jwt_secret}   (FIRMTEXT_JWT_SECRET; development value unless you set one)

Try it from another shell in this directory (same FIRMTEXT_* environment):
  ADMIN=$({cli} token --firm demo --user host --perm admin)
  TOKEN=$({cli} token --firm demo --user alice --perm texting)
  curl -s -X PUT -H "Authorization: Bearer $ADMIN" {json} \\
       -d '{{"name": "Demo Law", "number": "{firm_number}"}}' {api}/v1/firm
  curl -s -X PUT -H "Authorization: Bearer $ADMIN" {json} \\
       -d '{{"name": "Alice", "email": "alice@demo.test", "permissions": ["texting"],
            "notify": {{"email": "none", "desktop": "both"}}}}' {api}/v1/users/alice
  {cli} simulate inbound --from +15551230001 --body "Hello"
  curl -s {auth} {api}/v1/inbox
  CONV=$(curl -s {auth} {api}/v1/inbox | python3 -c 'import json,sys; print(json.load(sys.stdin)["conversations"][0]["id"])')
  curl -s -X POST {auth} {json} -d '{{"body": "Hi, this is Alice."}}' {api}/v1/conversations/$CONV/messages
  curl -s {auth} {api}/v1/conversations/$CONV/messages    # repeat: queued -> sent -> delivered

Ctrl-C stops everything.
"""


def _cli_path() -> str:
    # The venv's script, relative when run from the repository (what `make run` does).
    script = Path(sys.executable).parent / "firmtext"
    if not script.exists():
        return "firmtext"
    relative = os.path.relpath(script)
    return shlex.quote(relative if not relative.startswith("..") else str(script))


def _firm_number() -> str:
    # The number `firmtext simulate` texts by default, so the walkthrough lines up.
    from adapters.simulated_handset import DEV_FIRM_NUMBER

    return os.environ.get("FIRMTEXT_FIRM_NUMBER") or DEV_FIRM_NUMBER


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _say(text: str) -> None:
    print(f"firmtext up: {text}", file=sys.stderr, flush=True)


def _supervise(supervisor, settings: Settings, until=None) -> None:
    """Poll ``supervisor`` and keep the state file current, forever (or until ``until()``)."""
    from firmtext.infra.state import write_state

    while until is None or not until():
        supervisor.poll()
        write_state(settings, supervisor.rows())
        time.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    """Start everything, print :func:`instructions`, supervise until SIGINT/SIGTERM.

    Components are supervised from the first start on: one that fails to start (or dies
    later) is restarted with backoff while the others serve; ``up`` never gives up.
    """
    from firmtext.infra.services import service_states, start_infrastructure, stop_infrastructure
    from firmtext.infra.stack import Stack, components_for
    from firmtext.infra.state import write_state
    from firmtext.infra.supervisor import Supervisor

    settings = Settings.from_env()
    # Explicit for SIGINT too: a shell starts background jobs with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)
    # Only servers that were not running before are ours to stop at the end.
    owned = tuple(name for name, state in service_states(settings).items() if state == "stopped")
    stack = supervisor = None
    began = time.monotonic()
    try:
        brokers = f"{settings.kafka_brokers} Kafka nodes" if settings.kafka_brokers > 1 else "Kafka"
        print(f"firmtext up: starting {brokers} and PostgreSQL…", flush=True)
        ready = start_infrastructure(settings).settings
        names = components_for(ready)
        print(f"firmtext up: starting {', '.join(names)}…", flush=True)
        stack = Stack(ready)
        stack.start(["migrate"])
        supervisor = Supervisor(stack, [name for name in names if name != "migrate"], report=_say)
        supervisor.start()
        deadline = time.monotonic() + 90
        _supervise(supervisor, ready, until=lambda: supervisor.all_running() or time.monotonic() > deadline)
        print(instructions(ready, _cli_path(), _firm_number()), flush=True)
        waiting = [h.name for h in supervisor.health.values() if h.state != "running"]
        if waiting:
            _say(f"not ready yet: {', '.join(waiting)} (restarting with backoff; "
                 "see `firmtext infra status`)")
        print(f"(ready in {time.monotonic() - began:.1f} s)", flush=True)
        _supervise(supervisor, ready)
    except KeyboardInterrupt:
        print("\nfirmtext up: stopping…", flush=True)
    finally:
        # A second Ctrl-C must not cut the clean shutdown short; it is time-bounded.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack is not None:
            stack.stop()
        if supervisor is not None:
            supervisor.stopped()
            write_state(settings, supervisor.rows())
        stopped = stop_infrastructure(settings, owned)
        if stopped:
            print(f"firmtext up: stopped {', '.join(stopped)}", flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``up`` to the CLI."""
    parser = subparsers.add_parser(
        "up", help="run Kafka, PostgreSQL and all components in the foreground (make run)",
        description="Start (or reuse) Kafka and PostgreSQL unless FIRMTEXT_KAFKA_BOOTSTRAP / "
                    "FIRMTEXT_DATABASE_URL point elsewhere, run migrate, then the simulator, API, "
                    "relay and FIRMTEXT_WORKERS workers, restarting any that exits (with backoff, "
                    "indefinitely); Ctrl-C stops them all.")
    parser.set_defaults(func=run)
