"""The PostgreSQL tables the Kafka processes own: the outbox relay's (streams/relay.py),
the worker's side-effect tracking, the sender's dispatches and lanes (streams/dispatch.py,
streams/send_lanes.py, streams/status_followup.py) and the mailer's deliveries
(streams/mailer.py). ``firmtext migrate`` (firmtext/commands/migrate.py) creates them
after the adapters' and the projections' tables. Every statement is idempotent
(CREATE ... IF NOT EXISTS, ALTER ... ADD COLUMN IF NOT EXISTS).
"""
from __future__ import annotations

DDL = """
-- The outbox relay reports itself here (streams/relay_health.py): its state, why, and a
-- heartbeat, so /readyz, /metrics and `projections status` can tell operators.
CREATE TABLE IF NOT EXISTS relay_status (
    name text PRIMARY KEY,
    state text NOT NULL,
    detail text NOT NULL DEFAULT '',
    since timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
-- Stored events the log refused for good (e.g. larger than the topic accepts, stored
-- before the write side checked sizes): recorded, skipped, and reported; never a crash loop.
CREATE TABLE IF NOT EXISTS relay_set_aside (
    notification_id bigint PRIMARY KEY,
    stream_id uuid NOT NULL,
    event_type text NOT NULL,
    size_bytes int NOT NULL,
    reason text NOT NULL,
    set_aside_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS relay_position (
    name text PRIMARY KEY,
    notification_id bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_heads (
    stream_id uuid PRIMARY KEY,
    firm_id text NOT NULL,
    version bigint NOT NULL,
    hash text NOT NULL
);
CREATE TABLE IF NOT EXISTS side_effect_tracking (
    effect text NOT NULL,
    partition int NOT NULL,
    notification_id bigint NOT NULL,
    kafka_offset bigint NOT NULL,
    PRIMARY KEY (effect, partition)
);
-- One row per OutboundRequested the sender recorded (streams/dispatch.py): due while
-- done_at is NULL, sent in seq order per sending number (streams/send_lanes.py).
-- claimed_at set and done_at NULL after a crash: an interrupted send, reconciled with
-- the carrier before it is sent again.
CREATE TABLE IF NOT EXISTS outbound_dispatches (
    message_id text PRIMARY KEY,
    conversation_id uuid NOT NULL,
    firm_id text NOT NULL,
    from_number text NOT NULL,
    seq bigint NOT NULL,
    body_ct text NOT NULL,  -- sealed like the event's: shredding the conversation key shreds it
    recorded_at timestamptz NOT NULL DEFAULT now(),
    claimed_at timestamptz,
    attempts int NOT NULL DEFAULT 0,
    done_at timestamptz,
    outcome text
);
CREATE INDEX IF NOT EXISTS outbound_dispatches_due ON outbound_dispatches (from_number, seq)
    WHERE done_at IS NULL;
-- A text handed to the carrier whose final status is still awaited: when to ask the
-- carrier about it (streams/status_followup.py), and how often it was asked.
ALTER TABLE outbound_dispatches ADD COLUMN IF NOT EXISTS follow_up_at timestamptz;
ALTER TABLE outbound_dispatches ADD COLUMN IF NOT EXISTS follow_ups int NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS outbound_dispatches_follow_up ON outbound_dispatches (follow_up_at)
    WHERE follow_up_at IS NOT NULL;
-- Which worker paces a sending number right now; a lease that lapses when its holder
-- stops renewing it (killed), so another worker can take the number over.
CREATE TABLE IF NOT EXISTS sending_lanes (
    from_number text PRIMARY KEY,
    holder text NOT NULL,
    lease_until timestamptz NOT NULL
);
-- One row per notification row handed to SMTP (sent_at NULL: settled without sending,
-- e.g. no address, or set aside with its reason); see streams/mailer.py.
CREATE TABLE IF NOT EXISTS email_deliveries (
    notification_id text PRIMARY KEY,
    sent_at timestamptz
);
ALTER TABLE email_deliveries ADD COLUMN IF NOT EXISTS set_aside_reason text;
ALTER TABLE email_deliveries ADD COLUMN IF NOT EXISTS set_aside_at timestamptz;
"""
