"""``firmtext migrate``: create what firmtext needs in PostgreSQL and Kafka (idempotent)."""
from __future__ import annotations

import argparse
import asyncio

import psycopg

from adapters import pg_locks
from adapters import schema as adapters_schema
from firmtext.bootstrap import Container
from firmtext.config import Settings
from projections import schema as projections_schema
from projections.registry import ALL
from projections.writer import ensure_schema
from streams import schema as streams_schema
from streams.kafka import ensure_topic

# Each owner's tables beside its code, created bottom layer first (none refers to another's).
TABLES = (adapters_schema.DDL, projections_schema.DDL, streams_schema.DDL)


def apply_tables(conn) -> None:
    """Create (or complete) every table firmtext owns besides the event store and the
    projection schemas: the adapters', the projections' and the streams', in that order
    (idempotent)."""
    for ddl in TABLES:
        conn.execute(ddl)


def migrate(settings: Settings) -> list[str]:
    """Create tables, projection schemas and the events topic. Returns what was created."""
    container = Container(settings, pool_size=2)
    done = []
    try:
        with psycopg.connect(container.database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (pg_locks.MIGRATE,))  # concurrent migrations wait
            apply_tables(conn)
            for projection in ALL.values():
                if ensure_schema(conn, projection):
                    done.append(f"schema {projection.schema}")
            container.texting  # constructing the application creates the event store tables
            added = container.texting.recorder.backfill_carrier_sids(conn)
            if added is not None:
                done.append(f"carrier sid index ({added} from stored events)")
        if asyncio.run(ensure_topic(container.kafka_bootstrap, settings)):
            done.append(f"topic {settings.events_topic}")
    finally:
        container.close()
    return done


def run(args: argparse.Namespace) -> int:
    created = migrate(Settings.from_env())
    print("migrate: " + (", ".join(created) if created else "nothing to do"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("migrate", help="create database tables, projection schemas and the Kafka topic",
                       description="Idempotent: creates only what is missing. Run by `firmtext up`.")
    p.set_defaults(func=run)
