"""The PostgreSQL tables the adapters own besides the eventsourcing store: data keys
(adapters/keystore.py), Idempotency-Key answers (adapters/http/idempotency.py),
media objects (adapters/media_store.py) and which one-time backfills ran (the event
store's own carrier sid index is created by its recorder, adapters/unit_recorder.py).
``firmtext migrate`` (firmtext/commands/migrate.py) creates them, then the projections'
tables (projections/schema.py) and the streams' (streams/schema.py). Every statement is
idempotent.
"""
from __future__ import annotations

# The notification projection NOTIFYs here after each batch (projections/writer.py);
# the API's live streams LISTEN (adapters/http/event_stream.py).
NOTIFY_CHANNEL = "firmtext_notifications"

DDL = """
CREATE TABLE IF NOT EXISTS data_keys (
    scope text PRIMARY KEY,
    wrapped bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    firm_id text NOT NULL,
    user_id text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status int NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (firm_id, user_id, key)
);
CREATE TABLE IF NOT EXISTS media_objects (
    media_id text PRIMARY KEY,
    firm_id text NOT NULL,
    conversation_id uuid NOT NULL,
    content_type text NOT NULL,
    size int NOT NULL,
    sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS media_objects_conversation ON media_objects (conversation_id);
-- One-time fills of a new table from what an older release stored (firmtext/commands/migrate.py).
CREATE TABLE IF NOT EXISTS backfills (
    name text PRIMARY KEY,
    rows bigint NOT NULL,
    done_at timestamptz NOT NULL DEFAULT now()
);
"""
