"""``firmtext up``'s state file (``<var>/run/up.json``) and what ``infra status --json`` shows.

``up`` rewrites the file (atomically) every second with one row per component; a reader
trusts it only while the ``up`` process that wrote it is alive, so a killed ``up``
never leaves components listed as running.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from firmtext.config import Settings
from firmtext.infra import daemon


def state_file(settings: Settings) -> Path:
    """Where ``up`` keeps its state for this var dir."""
    return Path(settings.var_dir).resolve() / "run" / "up.json"


def children_of(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (uvicorn's API worker processes, say)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return sorted(found)


def component_ports(settings: Settings) -> dict[str, int]:
    """The port each HTTP component listens on."""
    return {"api": settings.http_port, "simulator": settings.simulator_port}


def expand_rows(settings: Settings, rows: list[dict]) -> list[dict]:
    """Add ports, and one ``api-<n>`` row per API worker process when there are several."""
    ports, expanded = component_ports(settings), []
    for row in rows:
        expanded.append({**row, "port": ports.get(row["name"])})
        if row["name"] == "api" and row["pid"] and settings.api_workers > 1:
            workers = [pid for pid in children_of(row["pid"]) if "spawn_main" in daemon.cmdline(pid)]
            for n, pid in enumerate(workers, 1):
                expanded.append({"name": f"api-{n}", "pid": pid, "port": settings.http_port,
                                 "state": "running", "parent": "api"})
    return expanded


def write_state(settings: Settings, rows: list[dict]) -> None:
    """Replace the state file with ``rows`` (written beside it, then renamed)."""
    path = state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    document = {"up_pid": os.getpid(), "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "components": expand_rows(settings, rows)}
    partial.write_text(json.dumps(document, indent=1))
    partial.replace(path)


def read_components(settings: Settings) -> list[dict]:
    """The components ``up`` last reported; all "stopped" (no pid) if that ``up`` is gone."""
    try:
        document = json.loads(state_file(settings).read_text())
    except (OSError, ValueError):
        return []
    rows = document.get("components") or []
    if daemon.pid_alive(document.get("up_pid")):
        return rows
    return [{**row, "pid": None, "state": "stopped"} for row in rows if "parent" not in row]
