"""What the machine itself allows, measured in the same run as the benchmarks: Kafka's
own producer and consumer performance tools, and PostgreSQL ``COPY`` into an
unindexed table shaped like ``pj_messages.messages``. (The HTTP ceiling uses the
load generator: bench/load.py against bench/bare_app.py.)"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from pathlib import Path

import psycopg

from firmtext.infra.kafka_jars import INFRA_DIR, find_java

ENVELOPE_BYTES = 620  # the generated events' mean size (bench/events.py)


def _kafka_tool(libs: Path, tool: str, args: list[str], timeout: float = 300) -> str:
    logs = libs.parent / "logs"  # the broker's log4j2.xml writes under kafka.logs.dir
    command = [find_java(), "-Xmx512m", f"-Dlog4j2.configurationFile={INFRA_DIR / 'log4j2.xml'}",
               f"-Dkafka.logs.dir={logs}", "-cp", f"{libs}/*", f"org.apache.kafka.tools.{tool}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def kafka_producer(libs: Path, bootstrap: str, topic: str, records: int) -> dict:
    """ProducerPerformance with the relay's settings (acks=all, idempotent, linger 5 ms)."""
    out = _kafka_tool(libs, "ProducerPerformance", [
        "--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
        "--record-size", str(ENVELOPE_BYTES), "--throughput", "-1", "--command-property",
        "acks=all", "enable.idempotence=true", "linger.ms=5", "batch.size=262144"])
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    rate = float(re.search(r"([\d.]+) records/sec", last).group(1))
    return {"tool": "ProducerPerformance", "records": records, "record_bytes": ENVELOPE_BYTES,
            "records_per_second": round(rate), "line": last.strip()}


def kafka_consumer(libs: Path, bootstrap: str, topic: str, records: int) -> dict:
    """ConsumerPerformance over the same topic; the fetch rate excludes the group join."""
    out = _kafka_tool(libs, "ConsumerPerformance", [
        "--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records), "--timeout", "60000"])
    lines = [line for line in out.splitlines() if line.strip()]
    header = [h.strip() for h in lines[-2].split(",")]
    values = dict(zip(header, (v.strip() for v in lines[-1].split(","))))
    return {"tool": "ConsumerPerformance", "records": int(values["data.consumed.in.nMsg"]),
            "records_per_second": round(float(values["fetch.nMsg.sec"])),
            "records_per_second_with_group_join": round(float(values["nMsg.sec"])), "raw": values}


def postgres_copy(database_url: str, rows: int = 300_000) -> dict:
    """psycopg COPY of message-shaped rows into a table without any index."""
    body = "v1." + base64.urlsafe_b64encode(os.urandom(120)).decode()
    values = [(f"{i:032x}", f"conv-{i % 20000:08d}", "bench-firm", i, "inbound", body, json.dumps([]),
               json.dumps([]), None, "received", None, f"SM{i:032x}", "2025-01-06T09:00:00+00:00",
               "2025-01-06T09:00:00+00:00") for i in range(rows)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_ceiling")
        conn.execute("CREATE TABLE bench_copy_ceiling (message_id text, conversation_id text, firm_id text, "
                     "seq int, direction text, body_ct text, media jsonb, rejected_media jsonb, "
                     "sender_user_id text, status text, error_code int, carrier_sid text, "
                     "created_at timestamptz, updated_at timestamptz)")
        began = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy("COPY bench_copy_ceiling FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        seconds = time.perf_counter() - began
        conn.execute("DROP TABLE bench_copy_ceiling")
    return {"what": "psycopg COPY, 14-column message rows, no index", "rows": rows,
            "rows_per_second": round(rows / seconds), "seconds": round(seconds, 2)}
