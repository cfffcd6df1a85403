"""Distribution: ingest on 3 Kafka nodes with 1 vs 2 API processes and 1 vs 2 Faust
workers, in one run, with the ratios to the 1+1 baseline.

On a 2-core machine this measures the *cost* of distribution (more processes competing
for the same two cores, a rebalance-free but larger consumer group), not a gain: the
numbers say how much each extra process costs, not how firmtext scales on more cores.

``python -m bench.distribution`` alone, or as part of ``make bench`` (bench/run.py).
Its own servers under ``var/bench-cluster`` (Kafka 19392/19492/19592, PostgreSQL 15533);
writes ``bench/results/distribution.json``. Knobs: BENCH_DISTRIBUTION_SECONDS (8),
BENCH_DISTRIBUTION_CONCURRENCY (32).
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmtext.config import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SHAPES = [(1, 1), (2, 1), (1, 2), (2, 2)]  # (API processes, Faust workers)


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def cluster_settings() -> Settings:
    """3 nodes of their own, apart from bench/run.py's single broker."""
    from bench.run import own_settings

    return own_settings({"FIRMTEXT_VAR_DIR": str(ROOT / "var" / "bench-cluster"), "FIRMTEXT_KAFKA_PORT": "19392",
                         "FIRMTEXT_KAFKA_CONTROLLER_PORT": "19393", "FIRMTEXT_POSTGRES_PORT": "15533",
                         "FIRMTEXT_HTTP_PORT": "18100", "FIRMTEXT_SIMULATOR_PORT": "18110",
                         "FIRMTEXT_KAFKA_BROKERS": "3"},
                        ignore=("FIRMTEXT_KAFKA_BOOTSTRAP", "FIRMTEXT_DATABASE_URL"))


def measure(settings: Settings, api: int, workers: int, run_id: str, seconds: float, concurrency: int) -> dict:
    """One shape: its own database and topic, a warm-up, then one ingest level."""
    from bench.ingest import Visibility, level, register_firms
    from firmtext.bootstrap import Container
    from firmtext.infra.postgres import create_database, server_url
    from firmtext.infra.stack import Stack, components_for

    tag = f"{run_id}{api}{workers}"
    shaped = settings.with_overrides(database_url=create_database(server_url(settings), f"bench_{tag}"),
                                     events_topic=f"firmtext.events.{tag}", app_id=f"bench-{tag}",
                                     api_workers=api, workers=workers)
    stack = Stack(shaped)
    container = Container(shaped, pool_size=2)
    try:
        stack.start([name for name in components_for(shaped) if name != "simulator"])
        clients = asyncio.run(register_firms(shaped.public_url, shaped.jwt_secret, 20, 500, int(tag, 16)))
        seen = Visibility(shaped.database_url, container.sealer.phone_hash)
        asyncio.run(level(shaped, clients[:50], 4, 2.0, tag + "0", seen))  # warm-up: connections, JIT of the JVMs
        result = asyncio.run(level(shaped, clients, concurrency, seconds, tag + "1", seen))
    finally:
        container.close()
        stack.stop()
    return {"api_processes": api, "workers": workers, **result}


def with_ratios(rows: list[dict]) -> list[dict]:
    """Each shape's throughput and p99 visibility relative to 1 API + 1 worker."""
    base = rows[0]
    for row in rows:
        row["throughput_vs_1_1"] = round(row["accepted_per_second"] / base["accepted_per_second"], 2) \
            if base["accepted_per_second"] else None
        row["visibility_p99_vs_1_1"] = round(row["visibility_p99_ms"] / base["visibility_p99_ms"], 2) \
            if base["visibility_p99_ms"] else None
    return rows


def markdown(rows: list[dict]) -> str:
    """The summary's table."""
    lines = ["| API processes | workers | texts/s | vs 1+1 | visible p99 ms | vs 1+1 |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['api_processes']} | {r['workers']} | {r['accepted_per_second']:,.0f} | "
              f"{r['throughput_vs_1_1']} | {r['visibility_p99_ms']:,.0f} | {r['visibility_p99_vs_1_1']} |"
              for r in rows]
    return "\n".join(lines)


def run() -> dict:
    """Start the 3 nodes (or reuse them), measure every shape, stop what was started."""
    from bench.run import ensure_jars
    from firmtext.infra.services import start_infrastructure, stop_infrastructure

    settings = cluster_settings()
    seconds = float(os.environ.get("BENCH_DISTRIBUTION_SECONDS", "8"))
    concurrency = int(os.environ.get("BENCH_DISTRIBUTION_CONCURRENCY", "32"))
    run_id = f"{int(time.time()):x}"
    say(f"distribution: starting 3 Kafka nodes and PostgreSQL under {settings.var_dir}")
    ensure_jars(settings)
    infra = start_infrastructure(settings)
    try:
        rows = []
        for api, workers in SHAPES:
            rows.append(measure(infra.settings, api, workers, run_id, seconds, concurrency))
            say(f"  {api} API, {workers} worker{'s' if workers > 1 else ''}: "
                f"{rows[-1]['accepted_per_second']:,.0f} texts/s, visible p99 {rows[-1]['visibility_p99_ms']:,.0f} ms")
    finally:
        stop_infrastructure(settings, infra.started)
    result = {"brokers": 3, "concurrency": concurrency, "seconds": seconds, "cpus": os.cpu_count(),
              "shapes": with_ratios(rows)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "distribution.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    os.chdir(ROOT)
    print(markdown(run()["shapes"]))
