"""Rebuild: a generated log of realistic events (bench/events.py) written to its own
topic, replayed into fresh projections in a database of its own, with the same code as
``firmtext projections rebuild`` (swap included); plus a cProfile of the apply loop."""
from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import os
import pstats
import time
from pathlib import Path

import psycopg

from bench.fill_topic import fill
from firmtext.infra.postgres import create_database, drop_database
from projections.rebuild.run import Rebuild
from projections.registry import ALL
from projections.rebuild.schemas import create_without_indexes, drop_schema
from projections.rebuild.topic_range import TopicRange
from projections.writer import ProjectionWriter


async def fill_log(bootstrap: str, topic: str, events: int) -> dict:
    return await fill(bootstrap, topic, events)


def _own_cpu() -> float:
    t = os.times()  # children: the replayer processes, once they have been waited for
    return t.user + t.system + t.children_user + t.children_system


def rebuild(server_url: str, bootstrap: str, topic: str, jobs: int, database: str, meter=None) -> dict:
    """A whole rebuild of every projection from ``topic`` into a new database."""
    drop_database(server_url, database)
    url = create_database(server_url, database)
    if meter:
        meter.start()
    cpu = _own_cpu()
    report = asyncio.run(Rebuild(url, bootstrap, topic, list(ALL.values()), jobs=jobs).run())
    cores = {**(meter.cores() if meter else {}), "rebuild": round((_own_cpu() - cpu) / report.seconds, 2)}
    with psycopg.connect(url) as conn:
        rows = {f"{p.schema}.{t.name}": conn.execute(f'SELECT count(*) FROM "{p.schema}"."{t.name}"').fetchone()[0]
                for p in ALL.values() if not p.keyed for t in p.tables}  # keyed ones need the master key
    drop_database(server_url, database)
    return {"jobs": report.jobs, "events": report.events, "seconds": round(report.seconds, 2),
            "events_per_second": round(report.events_per_second),
            "stages_seconds": {k: round(v, 2) for k, v in report.stages.items()},
            "cores_used": cores, "rows_written": sum(rows.values()), "rows_by_table": rows}


async def _read(bootstrap: str, topic: str, limit: int) -> list:
    events = []
    async with TopicRange(bootstrap, topic) as log:
        async for batch in log.read({}, await log.end_offsets(), 50_000):
            events.extend(batch)
            if len(events) >= limit:
                break
    return events[:limit]


def profile(server_url: str, bootstrap: str, topic: str, events: int = 200_000, top: int = 18) -> dict:
    """cProfile of the apply loop (in memory, then the bulk write), single-threaded, on the
    first ``events`` events; reading and decoding are timed apart."""
    gc.disable()  # as the replayer does
    began = time.process_time()
    loaded = asyncio.run(_read(bootstrap, topic, events))
    read_cpu = time.process_time() - began
    gc.enable()
    url = create_database(server_url, "rebuild_profile", exist_ok=True)
    with psycopg.connect(url, autocommit=True) as conn:
        schemas = {p.name: f"{p.schema}__profile" for p in ALL.values()}
        for p in ALL.values():
            drop_schema(conn, schemas[p.name])
            create_without_indexes(conn, p, schemas[p.name])
        writer = ProjectionWriter(conn, list(ALL.values()), schemas=schemas, fresh=True)
        timers = {"prepare_cpu": 0.0, "write_cpu": 0.0, "write_wall": 0.0}

        def loop() -> None:
            gc.disable()  # as the replayer does
            for i in range(0, len(loaded), 50_000):
                c = time.process_time()
                prepared = writer.prepare(loaded[i:i + 50_000])
                timers["prepare_cpu"] += time.process_time() - c
                c, w = time.process_time(), time.perf_counter()
                writer.write(prepared)
                timers["write_cpu"] += time.process_time() - c
                timers["write_wall"] += time.perf_counter() - w
                gc.freeze()
            gc.unfreeze()
            gc.enable()

        loop()
        plain = dict(timers)
        for p in ALL.values():
            drop_schema(conn, schemas[p.name])
            create_without_indexes(conn, p, schemas[p.name])
        writer = ProjectionWriter(conn, list(ALL.values()), schemas=schemas, fresh=True)
        profiler = cProfile.Profile()
        profiler.runcall(loop)
        for p in ALL.values():
            drop_schema(conn, schemas[p.name])
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    root, venv = str(Path(__file__).resolve().parents[1]) + "/", str(Path(psycopg.__file__).parents[1]) + "/"
    text = out.getvalue().replace(root, "").replace(venv, "")
    per_event = {k: round(v / len(loaded) * 1e6, 1) for k, v in plain.items()}
    per_event["read_and_decode_cpu"] = round(read_cpu / len(loaded) * 1e6, 1)
    return {"events": len(loaded), "microseconds_per_event": per_event, "cprofile_top": text}
