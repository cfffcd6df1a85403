"""Finding 2 of issue 8, beyond the edge: an event no projection can store (a contact
named "Nul\\u0000Name": PostgreSQL refuses NUL in text and jsonb) is set aside by the live
writer, and `projections rebuild` sets aside exactly the same event, lists it, and
finishes, with the same rows as the live projections (it used to fail with DataError)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import psycopg
from aiokafka import AIOKafkaProducer

from firmtext.commands.migrate import apply_tables
from bench.events import LogWriter, generate
from bench.fill_topic import create_topic
from domain.ids import contact_id_of
from projections.rebuild.run import Rebuild
from projections.registry import ALL
from projections.rebuild.topic_range import TopicRange
from projections.writer import ProjectionWriter, ensure_schema
from tests.integration.test_rebuild_writer import contents

FIRM = "bench-firm-0001"


def poisoned_tail() -> list[tuple[bytes, bytes]]:
    """After the generated log: a contact whose name holds NUL, then a normal one."""
    log = LogWriter(datetime(2026, 1, 1, tzinfo=timezone.utc))
    log.notification_id = 100_000  # after every generated event
    return [log.emit(FIRM, contact_id_of(FIRM, contact), "Contact.Synced", {
        "firm_id": FIRM, "contact_id": contact, "name": name, "kind": "client", "phone_hashes": [], "phones_ct": []})
        for contact, name in (("nul", "Nul\u0000Name"), ("after", "After Poison"))]


def failures(conn) -> set[tuple]:
    return set(conn.execute("SELECT projection, partition, kafka_offset, event_type FROM projection_failures"))


async def test_live_writer_and_rebuild_set_aside_the_same_unstorable_event(make_database, kafka_bootstrap):
    url, topic = make_database(), f"firmtext.poison.{uuid.uuid4().hex[:8]}"
    await create_topic(kafka_bootstrap, topic, 3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in [*generate(300, firms=3, seed=11), *poisoned_tail()]:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    projections = list(ALL.values())
    with psycopg.connect(url, autocommit=True) as conn:
        apply_tables(conn)
        for projection in projections:
            ensure_schema(conn, projection)
        live = ProjectionWriter(conn, projections)
        async with TopicRange(kafka_bootstrap, topic) as log:
            async for batch in log.read({}, await log.end_offsets()):
                live.apply(batch)  # the live path: one transaction per batch, savepoints on failure
        set_aside_live = failures(conn)
        rows_live = contents(conn, "pj")
        assert set_aside_live and {f[3] for f in set_aside_live} == {"Contact.Synced"}
        names = [r[0] for r in conn.execute("SELECT name FROM pj_links.contacts WHERE contact_id IN ('nul', 'after')")]
        assert names == ["After Poison"]  # the event after the poisoned one was applied
        conn.execute("DELETE FROM projection_failures")  # what the rebuild records, it records itself

        report = await Rebuild(url, kafka_bootstrap, topic, projections, jobs=2, settle_lag=0).run()

        assert report.swapped and report.events > 300
        assert {(r[0], r[1], r[2], r[5]) for r in report.set_aside} == set_aside_live
        assert failures(conn) == set_aside_live
        assert contents(conn, "pj") == rows_live
