"""The PostgreSQL tables the projection writers share, beside the one schema per
projection (``ensure_schema`` in projections/writer.py creates those, so a rebuilt copy
can be swapped in atomically by renaming schemas: projections/rebuild/run.py).
``firmtext migrate`` (firmtext/commands/migrate.py) creates them. Every statement is
idempotent.
"""
from __future__ import annotations

DDL = """
-- Events a projection could not apply: set aside with the error, never a stopped
-- partition (projections/writer.py, projections/rebuild/replay.py).
CREATE TABLE IF NOT EXISTS projection_failures (
    projection text NOT NULL,
    partition int NOT NULL,
    kafka_offset bigint NOT NULL,
    notification_id bigint NOT NULL,
    event_id text,
    event_type text NOT NULL,
    error text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, partition, kafka_offset)
);
-- Events whose (type, schema version) no projection knows (a newer producer, a foreign
-- one): skipped by the live worker, counted here per type and version with where they
-- were first and last seen, and shown by `firmtext projections status` (projections/unknown.py).
CREATE TABLE IF NOT EXISTS projection_unknown_events (
    event_type text NOT NULL,
    schema_version text NOT NULL,
    events bigint NOT NULL,
    first_partition int NOT NULL,
    first_offset bigint NOT NULL,
    last_partition int NOT NULL,
    last_offset bigint NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, schema_version)
);
"""
