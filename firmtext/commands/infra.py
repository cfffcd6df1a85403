"""``firmtext infra start|stop|status|fetch``: the local Kafka and PostgreSQL."""
from __future__ import annotations

import argparse
import json
import time

from firmtext.config import Settings


def _print_status(settings: Settings, components: bool = False) -> None:
    from firmtext.infra.services import status
    from firmtext.infra.state import read_components

    for item in status(settings):
        pid = f"pid {item.pid}" if item.pid else ""
        where = f"  {item.directory}" if item.directory else ""
        print(f"{item.name:<9} {item.state:<10} {item.address}  {pid}{where}".rstrip())
    for row in read_components(settings) if components else []:
        pid = f"pid {row['pid']}" if row.get("pid") else ""
        port = f"127.0.0.1:{row['port']}" if row.get("port") else "-"
        restarts = f"  restarts {row['restarts']}, last exit {row['last_exit']}" if row.get("restarts") else ""
        print(f"{row['name']:<9} {row['state']:<10} {port}  {pid}{restarts}".rstrip())
        if row["state"] in ("degraded", "restarting") and row.get("reason"):
            print("    " + "\n    ".join(row["reason"].splitlines()[-5:]))


def status_document(settings: Settings) -> dict:
    """``infra status --json``: every local server and every component ``up`` runs, each
    with name, pid, port and state (docs/operations.md lists the other fields)."""
    from firmtext.infra.services import status
    from firmtext.infra.state import read_components

    return {"servers": [item.as_json() for item in status(settings)],
            "components": read_components(settings)}


def _start(args: argparse.Namespace) -> int:
    from firmtext.infra.services import start_infrastructure

    settings = Settings.from_env(secrets=False)
    began = time.monotonic()
    infra = start_infrastructure(settings)
    _print_status(settings)
    started = ", ".join(infra.started) or "nothing (already running)"
    print(f"started {started} in {time.monotonic() - began:.1f} s")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from firmtext.infra.services import stop_infrastructure

    stopped = stop_infrastructure(Settings.from_env(secrets=False))
    print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = Settings.from_env(secrets=False)
    if args.json:
        print(json.dumps(status_document(settings), indent=1))
    else:
        _print_status(settings, components=True)
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from firmtext.infra.kafka import KafkaPaths
    from firmtext.infra.kafka_jars import ensure_kafka_jars, jars_ready

    libs = KafkaPaths.of(Settings.from_env(secrets=False)).libs
    if not jars_ready(libs):
        print(f"fetching the Kafka jars into {libs} (Maven)…")
        ensure_kafka_jars(libs)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``infra`` and its actions to the CLI."""
    parser = subparsers.add_parser(
        "infra", help="start, stop or inspect the local Kafka and PostgreSQL under FIRMTEXT_VAR_DIR",
        description="Local Kafka (KRaft) and PostgreSQL for development and tests. Servers named "
                    "by FIRMTEXT_KAFKA_BOOTSTRAP / FIRMTEXT_DATABASE_URL are used as they are.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, func, text in (
        ("start", _start, "start both (or reuse them if running) and wait until they serve"),
        ("stop", _stop, "stop both (Kafka: SIGTERM then SIGKILL; PostgreSQL: pg_ctl stop -m fast)"),
        ("status", _status, "show whether each server and component runs, where, and its pid"),
        ("fetch", _fetch, "download the Kafka jars with Maven if they are missing (bootstrap)"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.set_defaults(func=func)
        if name == "status":
            action.add_argument("--json", action="store_true",
                                help="servers and components (name, pid, port, state, …) as JSON")
