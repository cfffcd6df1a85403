"""The live projector on its own: the code the Faust ``project`` agent runs per batch
(decode, project, write to PostgreSQL with the exactly-once tracking, one transaction per
batch of streams.agents.PROJECT_BATCH records), over a pre-filled topic of realistic
envelopes (bench/events.py), without Faust or the rest of the stack.

Same-run ceilings: reading the topic's raw records with aiokafka (what any consumer
pays before projecting), and a bare ``COPY`` of the very rows the projector wrote into
unindexed tables (what writing them costs at the least). A cProfile of the projector on
the first events says where the time goes.

``python -m bench.projector [EVENTS]`` against the servers of the environment's settings
(FIRMTEXT_KAFKA_PORT, FIRMTEXT_POSTGRES_PORT, …); writes bench/results/projector.json.
"""
from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import NamedTuple

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from firmtext.commands.migrate import apply_tables
from bench.fill_topic import fill
from firmtext.config import Settings
from firmtext.bootstrap import kafka_bootstrap_of
from firmtext.infra.postgres import create_database, drop_database, server_url
from projections.registry import ALL
from projections.rebuild.schemas import drop_schema
from projections.writer import ProjectionWriter, ensure_schema
from streams.agents import PROJECT_BATCH
from streams.continuity import to_events

RESULTS = Path(__file__).parent / "results"
# Measure what the worker runs: it keeps no rows across batches (projections/speculation.py;
# docs/architecture.md, session 13). BENCH_KEEP_ROWS=1 measures the writer keeping them.
KEEP_ROWS = os.environ.get("BENCH_KEEP_ROWS", "0") == "1"


async def read_topic(bootstrap: str, topic: str) -> tuple[list, float]:
    """Every record of ``topic`` as (partition, offset, value), in fetch order, and the
    seconds the read took (the read-rate ceiling)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    try:
        for _ in range(50):
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                break
            await consumer._client.force_metadata_update()
        parts = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        due = sum(ends.values())
        records, began = [], time.perf_counter()
        while len(records) < due:
            for tp, batch in (await consumer.getmany(timeout_ms=1000, max_records=PROJECT_BATCH)).items():
                records.extend((tp.partition, r.offset, r.value) for r in batch)
        return records, time.perf_counter() - began
    finally:
        await consumer.stop()


class Record(NamedTuple):
    """A record as to_events reads it (aiokafka's ``ConsumerRecord`` has these fields)."""
    partition: int
    offset: int
    value: bytes


def as_records(records: list) -> list:
    return [Record(*r) for r in records]


def fresh_schemas(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        apply_tables(conn)
        conn.execute("TRUNCATE projection_failures, projection_unknown_events")
        for p in ALL.values():
            drop_schema(conn, p.schema)
            ensure_schema(conn, p)


def project(url: str, items: list, limit: int | None = None) -> dict:
    """The agent's per-batch work, batch after batch: to_events, then ProjectionWriter.apply."""
    items = items[:limit] if limit else items
    with psycopg.connect(url, autocommit=True) as conn:
        writer = ProjectionWriter(conn, list(ALL.values()), keep_rows=KEEP_ROWS)
        decode = apply = 0.0
        backend, cpu = conn.info.backend_pid, time.process_time()
        server_cpu, began = backend_cpu(backend), time.perf_counter()
        for i in range(0, len(items), PROJECT_BATCH):
            t0 = time.perf_counter()
            events = to_events(items[i:i + PROJECT_BATCH])
            t1 = time.perf_counter()
            writer.apply(events)
            decode, apply = decode + t1 - t0, apply + time.perf_counter() - t1
        seconds = time.perf_counter() - began
        cpu, server_cpu = time.process_time() - cpu, backend_cpu(backend) - server_cpu
    return {"events": len(items), "seconds": round(seconds, 2), "events_per_second": round(len(items) / seconds),
            "decode_seconds": round(decode, 2), "apply_and_write_seconds": round(apply, 2),
            # The machine is shared: CPU seconds say what the wall time cannot. The projector
            # and its PostgreSQL backend take turns (one synchronous connection), so their
            # sum is the time a batch takes on an otherwise idle machine, give or take latency.
            "python_cpu_seconds": round(cpu, 2), "postgres_backend_cpu_seconds": round(server_cpu, 2),
            "events_per_cpu_second": round(len(items) / (cpu + server_cpu)),
            # Per projection batch: run once on the rows kept from the last batch ("warm"),
            # read afresh ("cold"), speculative runs undone ("undone"): projections/speculation.py.
            "runs": dict(writer.runs),
            "microseconds_per_event": {"python": round(cpu / len(items) * 1e6), "postgres": round(
                server_cpu / len(items) * 1e6)}}


def _project_part(url: str, records: list, out) -> None:
    out.put(project(url, as_records(records)))


def project_parallel(url: str, records: list, jobs: int) -> dict:
    """``jobs`` projector processes at once, each on its share of the partitions (as
    several workers in one consumer group split them): wall time until all are done."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    out = context.Queue()
    shares = [[r for r in records if r[0] % jobs == j] for j in range(jobs)]
    began = time.perf_counter()
    workers = [context.Process(target=_project_part, args=(url, share, out)) for share in shares]
    for w in workers:
        w.start()
    parts = [out.get() for _ in workers]
    for w in workers:
        w.join()
    seconds = time.perf_counter() - began
    return {"jobs": jobs, "events": len(records), "seconds": round(seconds, 2),
            "events_per_second": round(len(records) / seconds),
            "events_per_cpu_second": round(len(records) / sum(
                p["python_cpu_seconds"] + p["postgres_backend_cpu_seconds"] for p in parts)),
            "per_process": parts}


def backend_cpu(pid: int) -> float:
    """CPU seconds the PostgreSQL backend ``pid`` used so far (same machine: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows_written(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {f"{p.schema}.{t.name}": conn.execute(f'SELECT count(*) FROM "{p.schema}"."{t.name}"').fetchone()[0]
                for p in ALL.values() for t in p.tables}


def copy_ceiling(url: str, events: int) -> dict:
    """COPY every row the projector wrote (read back first) into unindexed twins."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = []
        for p in ALL.values():
            for t in p.tables:
                with conn.cursor() as cur, cur.copy(f'COPY (SELECT * FROM "{p.schema}"."{t.name}") TO STDOUT') as out:
                    data = b"".join(bytes(chunk) for chunk in out)
                twin = f"bench_copy__{p.name}__{t.name}"
                conn.execute(f'DROP TABLE IF EXISTS "{twin}"')
                conn.execute(f'CREATE TABLE "{twin}" (LIKE "{p.schema}"."{t.name}")')  # no indexes, no keys
                tables.append((twin, data))
        rows = sum(data.count(b"\n") for _, data in tables)
        began = time.perf_counter()
        with conn.transaction():
            for twin, data in tables:
                with conn.cursor().copy(f'COPY "{twin}" FROM STDIN') as copy:
                    copy.write(data)
        seconds = time.perf_counter() - began
        for twin, _ in tables:
            conn.execute(f'DROP TABLE "{twin}"')
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds),
            "events_per_second_equivalent": round(events / seconds)}


def profile(url: str, items: list, events: int, top: int = 22) -> str:
    fresh_schemas(url)
    profiler = cProfile.Profile()
    profiler.runcall(project, url, items, events)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    root, venv = str(Path(__file__).resolve().parents[1]) + "/", str(Path(psycopg.__file__).parents[1]) + "/"
    return out.getvalue().replace(root, "").replace(venv, "")


def run(settings: Settings, events: int, runs: int = 2) -> dict:
    topic = f"bench.projector.{os.getpid()}"
    bootstrap = kafka_bootstrap_of(settings)
    filled = asyncio.run(fill(bootstrap, topic, events))
    records, read_seconds = asyncio.run(read_topic(bootstrap, topic))
    items = as_records(records)
    server = server_url(settings)
    drop_database(server, "bench_projector")
    url = create_database(server, "bench_projector")
    try:
        timed = []
        for _ in range(runs):
            fresh_schemas(url)
            timed.append(project(url, items))
        best = max(timed, key=lambda r: r["events_per_second"])
        fresh_schemas(url)
        two = project_parallel(url, records, 2)
        rows = rows_written(url)
        ceiling = copy_ceiling(url, len(items))
        with psycopg.connect(url) as conn:
            failures = conn.execute("SELECT count(*) FROM projection_failures").fetchone()[0]
            unknown = conn.execute("SELECT coalesce(sum(events), 0) FROM projection_unknown_events").fetchone()[0]
        text = profile(url, items, min(len(items), int(os.environ.get("BENCH_PROFILE_EVENTS", 50_000))))
    finally:
        drop_database(server, "bench_projector")
    return {"events": len(items), "batch": PROJECT_BATCH, "keep_rows": KEEP_ROWS, "topic_fill": {k: round(v, 2) for k, v in filled.items()},
            "runs": timed, "projector": best, "two_processes": two, "set_aside": failures, "unknown": int(unknown),
            "rows_written": sum(rows.values()), "rows_by_table": rows,
            "ceilings": {"kafka_read": {"seconds": round(read_seconds, 2),
                                        "events_per_second": round(len(items) / read_seconds)},
                         "copy_same_rows": ceiling},
            "target_events_per_second": 10_000, "met": best["events_per_second"] >= 10_000,
            "met_by_two_processes": two["events_per_second"] >= 10_000,
            "cprofile_top": text}


def bench_step(settings: Settings, say=print, events: int | None = None, runs: int = 2) -> dict:
    """The step of bench/run.py (and ``python -m bench.projector``): ``events`` (default
    BENCH_PROJECTOR_EVENTS, 50000) through the projector; writes results/projector.json."""
    count = events or int(os.environ.get("BENCH_PROJECTOR_EVENTS", "50000"))
    say(f"live projector: {count:,} events through the project agent's per-batch code, alone")
    result = run(settings, count, runs)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "projector.json").write_text(json.dumps(result, indent=2))
    say(f"  {result['projector']['events_per_second']:,} events/s, 2 processes "
        f"{result['two_processes']['events_per_second']:,} (target 10,000)")
    return result


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(bench_step(Settings.from_env(secrets=False), print, *args)["cprofile_top"])
