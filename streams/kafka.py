"""Kafka plumbing shared by the relay, migrations and tools (aiokafka; nothing at import)."""
from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from firmtext.config import Settings

MAX_RECORD_BYTES = 1024 * 1024
TOPIC_CONFIG = {
    # The log is the auditors' record: never delete by age or size.
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "cleanup.policy": "delete",
    # Well above MAX_ENVELOPE_BYTES (domain/envelope.py), which the write side enforces.
    "max.message.bytes": str(MAX_RECORD_BYTES),
}


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    """Idempotent, acks=all producer: a retried send is never written twice.

    No linger: the relay hands a whole batch to the producer before it waits for any
    acknowledgement, so the batch is in one request without it, and lingering only added
    5 ms to every text's way to Kafka (twice for an outbound text: request, then status)."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                            linger_ms=0, max_batch_size=256 * 1024, request_timeout_ms=30000,
                            max_request_size=MAX_RECORD_BYTES)


async def ensure_topic(bootstrap: str, settings: Settings) -> bool:
    """Create the events topic if missing. Returns True when it was created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if settings.events_topic in await admin.list_topics():
            return False
        configs = dict(TOPIC_CONFIG)
        if settings.topic_replication > 1:
            configs["min.insync.replicas"] = str(min(2, settings.topic_replication))
        try:
            await admin.create_topics([NewTopic(settings.events_topic, settings.topic_partitions,
                                                settings.topic_replication, topic_configs=configs)])
        except TopicAlreadyExistsError:
            return False
        return True
    finally:
        await admin.close()
