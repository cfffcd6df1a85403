"""The one registry of PostgreSQL advisory locks firmtext takes.

PostgreSQL has two key spaces: one bigint key, and two int keys (a class and a value).
Every lock is declared here, so no two uses can share a key by accident (a unit test
checks that they are distinct within each space).
"""
from __future__ import annotations

# Single-key locks (pg_advisory_lock(bigint)).
MIGRATE = 7_013_000  # concurrent `firmtext migrate` runs wait for each other
RELAY = 7_013_001  # one outbox relay publishes at a time; the others stand by
SWAP = 7_013_002  # live projection batches hold it shared; a rebuild's swap exclusively
EVENT_STORE = 7_013_006  # a process building the event store application (its CREATE OR REPLACE)

# Two-key locks (pg_advisory_lock(int, int)): the class here, the value at the call.
PROJECTION_PARTITION = 7_013_003  # with the Kafka partition: one live batch per partition
REBUILD = 7_013_005  # with hashtext(projection name): one rebuild per projection

SINGLE_KEY = {"MIGRATE": MIGRATE, "RELAY": RELAY, "SWAP": SWAP, "EVENT_STORE": EVENT_STORE}
TWO_KEY_CLASSES = {"PROJECTION_PARTITION": PROJECTION_PARTITION, "REBUILD": REBUILD}
