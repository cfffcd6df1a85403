"""``make bench``: every benchmark and its ceiling, in one run, on a stack of its own.

Kafka and PostgreSQL run under ``var/bench`` (ports 19092/19093 and 15433; the API on
18000, the bare HTTP ceiling on 18099), so a developer's ``make run`` and ``make test``
are untouched. Writes ``bench/results/{ceilings,ingest,rebuild}.json`` and
``bench/results/summary.md``; ``fairness.json`` too (bench/fairness.py). Knobs (environment): BENCH_EVENTS (rebuild log size,
1000000), BENCH_LEVEL_SECONDS (8), BENCH_LEVELS (1,8,32,64), BENCH_REBUILD_JOBS (1,2),
BENCH_DISTRIBUTION (1; 0 skips bench/distribution.py, which runs last on 3 nodes of its own).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmtext.config import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def own_settings(defaults: dict[str, str], ignore: tuple[str, ...] = ()) -> Settings:
    """Settings of a bench stack: ``defaults``, then FIRMTEXT_* values of the environment
    (those in ``ignore`` excepted), which still win."""
    env = {"FIRMTEXT_LOG_LEVEL": "warning", "FIRMTEXT_ENV": "development", **defaults}
    return Settings.from_env({**env, **{k: v for k, v in os.environ.items()
                                        if k.startswith("FIRMTEXT_") and k not in ignore}})


def bench_settings() -> Settings:
    """Settings of the bench's own stack."""
    return own_settings({"FIRMTEXT_VAR_DIR": str(ROOT / "var" / "bench"), "FIRMTEXT_KAFKA_PORT": "19092",
                         "FIRMTEXT_KAFKA_CONTROLLER_PORT": "19093", "FIRMTEXT_POSTGRES_PORT": "15433",
                         "FIRMTEXT_HTTP_PORT": "18000", "FIRMTEXT_SIMULATOR_PORT": "18010"})


def ensure_jars(settings: Settings) -> None:
    """The bench's broker uses the jars bootstrap fetched under var/ (else Maven)."""
    from firmtext.infra.kafka import KafkaPaths
    from firmtext.infra.kafka_jars import ensure_kafka_jars, jars_ready

    libs, fetched = KafkaPaths.of(settings).libs, ROOT / "var" / "kafka" / "libs"
    if not jars_ready(libs) and jars_ready(fetched):
        shutil.rmtree(libs, ignore_errors=True)
        shutil.copytree(fetched, libs)
    ensure_kafka_jars(libs)


async def clean(bootstrap: str, server: str) -> None:
    """Drop what earlier runs left in the bench's own Kafka and PostgreSQL (a 1M-event log
    is 600 MB)."""
    import psycopg
    from aiokafka.admin import AIOKafkaAdminClient

    from firmtext.infra.postgres import drop_database

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        old = [t for t in await admin.list_topics() if t.startswith(("bench.", "firmtext.events."))]
        if old:
            await admin.delete_topics(old)
    finally:
        await admin.close()
    with psycopg.connect(server, autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%' "
                                            "OR datname LIKE 'rebuild\\_%'").fetchall()]
    for name in names:
        drop_database(server, name)


async def create_topic(bootstrap: str, topic: str, partitions: int = 6) -> None:
    from bench.fill_topic import create_topic as create

    await create(bootstrap, topic, partitions)


def run_ceilings(settings: Settings, run_id: str) -> dict:
    from bench import ceilings
    from firmtext.infra.kafka import KafkaPaths

    libs, topic = KafkaPaths.of(settings).libs, f"bench.ceiling.{run_id}"
    asyncio.run(create_topic(settings.kafka_bootstrap, topic))
    say("ceiling: Kafka ProducerPerformance (1,000,000 x 620 B, acks=all)")
    producer = ceilings.kafka_producer(libs, settings.kafka_bootstrap, topic, 1_000_000)
    say(f"  {producer['records_per_second']:,} records/s")
    say("ceiling: Kafka ConsumerPerformance")
    consumer = ceilings.kafka_consumer(libs, settings.kafka_bootstrap, topic, 1_000_000)
    say(f"  {consumer['records_per_second']:,} records/s")
    say("ceiling: psycopg COPY into an unindexed table")
    copy = ceilings.postgres_copy(settings.database_url)
    say(f"  {copy['rows_per_second']:,} rows/s")
    return {"kafka_producer": producer, "kafka_consumer": consumer, "postgres_copy": copy}


def cpu_meter(settings: Settings, stack) -> "CpuMeter":  # noqa: F821
    """Cores used per process during a level: the components, PostgreSQL, Kafka, the generator."""
    from bench.cpu import CpuMeter
    from firmtext.infra import kafka, postgres
    from firmtext.infra.postgres_cluster import ClusterPaths

    pids = {name: stack.pid(name) for name in stack.children if name not in stack.one_shot}
    pids.update(postgres=postgres.running_pid(ClusterPaths.of(settings)), kafka=kafka.running_pid(settings))
    if stack.children:  # HTTP levels: this process is the load generator
        pids["load_generator"] = os.getpid()
    return CpuMeter(pids, families=frozenset({"postgres", "worker"}))  # the worker re-executes itself


def run_http(settings: Settings, levels: list[int], seconds: float, run_id: str, bare: bool,
             meter=None) -> list[dict]:
    """The same load at each level against the real API (``bare=False``) or the bare app."""
    from bench.ingest import Visibility, level, register_firms
    from bench.load import Client, drive
    from firmtext.bootstrap import Container

    if bare:
        clients = [Client("f", "+15550000000", f"+1555{i:07d}") for i in range(20_000)]
        out = []
        for concurrency in levels:
            meter.start()
            run = asyncio.run(drive(settings.public_url, settings.public_url, settings.twilio_auth_token,
                                    settings.twilio_account_sid, clients, concurrency, seconds / 2, run_id))
            out.append({**run.summary(), "cores_used": meter.cores()})
            say(f"  bare HTTP, {concurrency:>3} in flight: {out[-1]['accepted_per_second']:,.0f} requests/s")
        return out
    container = Container(settings, pool_size=2)
    try:
        clients = asyncio.run(register_firms(settings.public_url, settings.jwt_secret, 20, 1000, int(run_id, 16)))
        seen = Visibility(settings.database_url, container.sealer.phone_hash)
        asyncio.run(level(settings, clients[:50], 4, 2.0, run_id + "0", seen))  # warm-up
        out = []
        for i, concurrency in enumerate(levels, start=1):
            meter.start()
            result = asyncio.run(level(settings, clients, concurrency, seconds, f"{run_id}{i}", seen))
            out.append({**result, "cores_used": meter.cores()})  # over the load and the drain
            say(f"  ingest, {concurrency:>3} in flight: {result['accepted_per_second']:,.0f} texts/s, "
                f"visible p50 {result['visibility_p50_ms']:,.0f} ms, p99 {result['visibility_p99_ms']:,.0f} ms")
        return out
    finally:
        container.close()


def main() -> int:
    from bench.summary import write_summary
    from firmtext.infra.services import start_infrastructure, stop_infrastructure
    from firmtext.infra.stack import Ready, Stack

    began = time.monotonic()
    os.chdir(ROOT)
    levels = [int(x) for x in os.environ.get("BENCH_LEVELS", "1,8,32,64").split(",")]
    seconds = float(os.environ.get("BENCH_LEVEL_SECONDS", "8"))
    events = int(os.environ.get("BENCH_EVENTS", "1000000"))
    jobs = [int(x) for x in os.environ.get("BENCH_REBUILD_JOBS", "1,2").split(",")]
    run_id = f"{int(time.time()):x}"
    settings = bench_settings()
    RESULTS.mkdir(parents=True, exist_ok=True)
    say(f"starting Kafka and PostgreSQL under {settings.var_dir} (run {run_id}; {os.cpu_count()} CPUs)")
    ensure_jars(settings)
    infra = start_infrastructure(settings)
    ready = infra.settings
    from firmtext.infra.postgres import create_database, server_url

    asyncio.run(clean(ready.kafka_bootstrap, server_url(ready)))
    database = f"bench_{run_id}"
    ready = ready.with_overrides(database_url=create_database(server_url(ready), database),
                                 events_topic=f"firmtext.events.{run_id}", app_id=f"bench-{run_id}")
    stacks: list[Stack] = []
    try:
        ceilings = run_ceilings(ready, run_id)
        say("ceiling: bare FastAPI/uvicorn endpoint, same load generator")
        bare_port = 18099
        bare_settings = ready.with_overrides(http_port=bare_port, public_url=f"http://127.0.0.1:{bare_port}")
        bare = Stack(bare_settings, command=lambda name: [sys.executable, "-m", "bench.bare_app", str(bare_port)],
                     readiness={"bare": Ready(url=f"http://127.0.0.1:{bare_port}/healthz")}, one_shot=())
        stacks.append(bare)
        bare.start(["bare"])
        ceilings["http_bare"] = run_http(bare_settings, levels, seconds, run_id, bare=True,
                                         meter=cpu_meter(ready, bare))
        bare.stop()
        (RESULTS / "ceilings.json").write_text(json.dumps(ceilings, indent=2))

        say("ingest: starting migrate, api, relay and worker")
        stack = Stack(ready)
        stacks.append(stack)
        stack.start(["migrate", "api", "relay", "worker"])
        ingest = {"levels": run_http(ready, levels, seconds, run_id, bare=False, meter=cpu_meter(ready, stack))}
        stack.stop()
        at = max(level for level in levels if level <= 64)
        say(f"ingest: 2 group-commit executors in the API (FIRMTEXT_COMMIT_EXECUTORS=2), {at} in flight")
        two = ready.with_overrides(commit_executors=2)
        stack = Stack(two)
        stacks.append(stack)
        stack.start(["migrate", "api", "relay", "worker"])
        ingest["commit_executors_2"] = run_http(two, [at], seconds, run_id + "e", bare=False,
                                                meter=cpu_meter(two, stack))[0]
        stack.stop()
        (RESULTS / "ingest.json").write_text(json.dumps(ingest, indent=2))

        from bench import steps

        fairness = steps.before_rebuild(ready, run_id, say)  # fairness, outbound, contact search, cold load

        from bench import rebuild as rebuild_bench

        topic = f"bench.rebuild.{run_id}"
        say(f"rebuild: writing {events:,} generated events to {topic}")
        filled = asyncio.run(rebuild_bench.fill_log(ready.kafka_bootstrap, topic, events))
        say(f"  {filled['events_per_second']:,.0f} events/s (aiokafka producer)")
        runs = []
        for n in jobs:
            say(f"rebuild: every projection from offset 0, {n} process{'es' if n > 1 else ''}")
            meter = cpu_meter(ready, Stack(ready))  # PostgreSQL and Kafka; the rebuild counts itself
            runs.append(rebuild_bench.rebuild(server_url(ready), ready.kafka_bootstrap, topic, n,
                                              f"rebuild_{run_id}", meter))
            say(f"  {runs[-1]['events_per_second']:,} events/s ({runs[-1]['seconds']} s)")
        say("rebuild: cProfile of the apply loop (200,000 events)")
        profile = rebuild_bench.profile(server_url(ready), ready.kafka_bootstrap, topic)
        rebuild = {"topic_fill": filled, "runs": runs, "profile": profile}
        (RESULTS / "rebuild.json").write_text(json.dumps(rebuild, indent=2))
        steps.after_rebuild(ready, say)  # the live projector alone
        summary = write_summary(RESULTS, ceilings, ingest, rebuild, time.monotonic() - began, os.cpu_count(),
                                fairness)
        print(summary)
        steps.write_figures(say)  # results/summary.json
        say(f"done in {time.monotonic() - began:.0f} s; results in {RESULTS}")
        return 0
    finally:
        for stack in stacks:
            stack.stop()
        asyncio.run(clean(ready.kafka_bootstrap, server_url(ready)))
        stop_infrastructure(settings, infra.started)  # what this run started; a running one stays


if __name__ == "__main__":
    code = main()
    if code == 0 and os.environ.get("BENCH_DISTRIBUTION", "1") != "0":
        from bench import steps

        steps.distribution_step()
    raise SystemExit(code)
