"""The Faust worker: projection agent and sender agent on ``firmtext.events``.

Agents are thin ``async for`` loops; the work is in projections/writer.py and
streams/dispatch.py. Positions live in PostgreSQL, never in Kafka's committed offsets:

- Whenever Faust would seek to the committed offsets (after every rebalance, and when
  its flow was paused) it seeks to where PostgreSQL says each partition was last
  applied instead. Faust acks a batch even when its agent died halfway through it
  (take_events acks in a ``finally``), so its committed offset can be past events that
  were never applied; seeking there would skip them for good.
- Each agent checks that the offsets it is handed follow on from the last ones it
  handled (:class:`Continuity`). A gap (events Faust skipped) is never applied past:
  the partition is moved back to the first missing offset and read again.

So a worker killed or crashing at any instant neither skips nor double-applies an event.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio
import logging
import threading

import faust
import psycopg
from faust.types import TP

from firmtext.config import Settings
from projections.registry import ALL
from projections.writer import ProjectionWriter
from domain.envelope import Event, decode
from streams.dispatch import record_requests, sender_offsets
from streams.mailer import Mailer

if TYPE_CHECKING:  # built by the composition root (firmtext/commands/worker.py)
    from firmtext.bootstrap import Container

log = logging.getLogger("firmtext.worker")


def to_events(batch) -> list[Event]:
    events = []
    for item in batch:
        try:
            events.append(Event(decode(item.value), item.message.partition, item.message.offset))
        except ValueError:
            # Not ours (a foreign producer); never crash the projection on it.
            log.error("skipping a record that is not a firmtext envelope at %s/%s",
                      item.message.partition, item.message.offset)
    return events


def kafka_position(item) -> tuple[int, int]:
    """(partition, offset) of a Faust event."""
    return item.message.partition, item.message.offset


def event_position(event: Event) -> tuple[int, int]:
    return event.partition, event.offset


class Continuity:
    """Per partition, the next Kafka offset an agent expects. Offsets of the events topic
    are consecutive (no transactions, no compaction), so a record beyond the expected
    offset means records in between were skipped. Records below it are redeliveries,
    which the agents recognise by notification id and skip themselves. Every record
    counts, including one that is not an envelope (skipped, but not a gap)."""

    def __init__(self) -> None:
        self.expected: dict[int, int] = {}

    def reset(self, offsets: dict[int, int]) -> None:
        """The consumer was moved: ``offsets`` (partition -> next offset) come next."""
        self.expected.update(offsets)

    def unknown(self, items: list, where=event_position) -> set[int]:
        """Partitions of ``items`` with no expectation yet (to :meth:`reset` first)."""
        return {where(i)[0] for i in items} - self.expected.keys()

    def check(self, items: list, where=event_position) -> tuple[list, dict[int, int]]:
        """(items to handle, {partition: offset to read again from}) for records in
        arrival order (``where`` gives an item's partition and offset); changes nothing
        until :meth:`advance`."""
        expected, keep, gaps = dict(self.expected), [], {}
        for item in items:
            partition, offset = where(item)
            if partition in gaps:
                continue
            due = expected.get(partition)
            if due is not None and offset > due:
                gaps[partition] = due
                continue
            keep.append(item)
            expected[partition] = max(due or 0, offset + 1)
        return keep, gaps

    def advance(self, handled: list, where=event_position) -> None:
        """``handled`` were applied (committed): expect what follows them."""
        for item in handled:
            partition, offset = where(item)
            self.expected[partition] = max(self.expected.get(partition, 0), offset + 1)


def create_app(settings: Settings, container: "Container") -> faust.App:
    """Build (not start) the worker app for ``settings``."""
    datadir = settings.var_dir / "faust" / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    app = faust.App(
        settings.app_id, broker=f"kafka://{container.kafka_bootstrap}", store="memory://",
        datadir=str(datadir),  # never the current directory
        autodiscover=False, web_enabled=False, topic_disable_leader=True, topic_allow_declare=False,
        consumer_auto_offset_reset="earliest", broker_session_timeout=6.0, broker_heartbeat_interval=1.0,
        broker_commit_every=500, stream_wait_empty=False)
    topic = app.topic(settings.events_topic, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw", internal=False)
    state: dict = {}
    making = threading.Lock()

    def lost(name: str) -> bool:
        """True if ``name``'s connection was never made or died (PostgreSQL restarted): an
        agent Faust restarts after such a crash must connect again, not reuse a dead one."""
        conn = state.get(f"{name}_conn")
        return conn is None or conn.closed or conn.broken

    def writer() -> ProjectionWriter:
        if lost("writer"):
            state["writer_conn"] = conn = psycopg.connect(container.database_url, autocommit=True)
            state["writer"] = ProjectionWriter(conn, list(ALL.values()), keys=container.search_digests)
        return state["writer"]

    def sending():
        """(connection the send agent records on, the sending lanes), made on first use
        (by the send agent or the lanes' task, whichever comes first: hence the lock)."""
        with making:
            if "lanes" not in state:
                from streams.send_lanes import sending_lanes

                state["lanes"] = sending_lanes(settings, container)
            if lost("recorder"):  # first use, or PostgreSQL restarted under it
                state["recorder_conn"] = psycopg.connect(container.database_url, autocommit=True)
        return state["recorder_conn"], state["lanes"]

    projected, sent = Continuity(), Continuity()

    def positions() -> tuple[dict[int, int], dict[int, int]]:
        """(projections, sender): partition -> next offset each needs, from PostgreSQL.
        A connection of its own: the writer's may be inside a batch's transaction right
        now (in another thread), whose uncommitted tracking must not decide where to seek."""
        with psycopg.connect(container.database_url, autocommit=True) as conn:
            return (ProjectionWriter(conn, list(ALL.values()), keys=container.search_digests).resume_offsets(),
                    sender_offsets(conn))

    def consumer_start(p: int, projection_at: dict[int, int], sender_at: dict[int, int]) -> int:
        # A partition the sender never sent on starts where the projections do.
        return min(projection_at.get(p, 0), sender_at.get(p, projection_at.get(p, 0)))

    async def seek_to_postgres() -> dict:
        """Move every assigned partition to the earlier of the projections' and the
        sender's positions (they share the consumer). Returns {TP: offset}."""
        projection_at, sender_at = await asyncio.to_thread(positions)
        moved = {}
        for tp in app.consumer.assignment():
            if tp.topic == settings.events_topic:
                p = tp.partition
                moved[tp] = consumer_start(p, projection_at, sender_at)
                await app.consumer.seek(tp, moved[tp])
                projected.reset({p: projection_at.get(p, 0)})
                sent.reset({p: moved[tp]})
        return moved

    async def expect(continuity: Continuity, items: list, sender: bool) -> None:
        """Records of a partition no seek positioned yet (Faust may hand some out before its
        assignment handler ran): expect what PostgreSQL says comes next."""
        unknown = continuity.unknown(items, kafka_position)
        if unknown:
            projection_at, sender_at = await asyncio.to_thread(positions)
            continuity.reset({p: consumer_start(p, projection_at, sender_at) if sender else projection_at.get(p, 0)
                              for p in unknown})

    async def seek_back(gaps: dict[int, int], agent: str) -> None:
        for partition, offset in gaps.items():
            log.warning("%s: offsets of partition %s skipped from %s on; reading again from there",
                        agent, partition, offset)
            await app.consumer.seek(TP(settings.events_topic, partition), offset)

    def take_over_seeks() -> bool:
        """Make Faust's seek to the committed offsets a seek to PostgreSQL's positions.
        Faust seeks after every rebalance, while the flow is still paused (its recovery
        step): the one safe moment, as a seek racing the fetcher can crash aiokafka's
        fetcher. True when it was not in place yet."""
        if app.consumer.seek_to_committed == seek_to_postgres:
            return False
        app.consumer.seek_to_committed = seek_to_postgres
        return True

    @app.on_partitions_revoked.connect
    async def before_assignment(app_, revoked, **kwargs) -> None:
        take_over_seeks()  # every rebalance, the first included, revokes before it assigns

    @app.on_partitions_assigned.connect
    async def resume_from_postgres(app_, assigned, **kwargs) -> None:
        if take_over_seeks():  # too late for this rebalance's seek: move the consumer now
            await seek_to_postgres()

    @app.agent(topic, name="project")
    async def project(stream):
        async for batch in stream.take_events(1000, within=0.05):
            await expect(projected, batch, sender=False)
            batch, gaps = projected.check(batch, kafka_position)
            events = to_events(batch)
            if events:
                await asyncio.to_thread(writer().apply, events)
            projected.advance(batch, kafka_position)
            if gaps:
                await seek_back(gaps, "projections")

    @app.agent(topic, name="send")
    async def send(stream):
        """Records each requested text as due (fast); the sending lanes send them."""
        async for batch in stream.take_events(500, within=0.05):
            await expect(sent, batch, sender=True)
            batch, gaps = sent.check(batch, kafka_position)
            events = to_events(batch)
            if events:
                recorder, lanes = await asyncio.to_thread(sending)
                if await asyncio.to_thread(record_requests, recorder, container.texting, events):
                    lanes.wake()
            sent.advance(batch, kafka_position)
            if gaps:
                await seek_back(gaps, "sender")

    @app.task
    async def run_sending_lanes() -> None:
        await (await asyncio.to_thread(sending))[1].run()

    mailer = Mailer(container)  # connects on its first tick

    @app.timer(60.0, name="sweep-shredded-media")
    async def sweep_media() -> None:
        from adapters.media_sweep import sweep_shredded_media

        await asyncio.to_thread(sweep_shredded_media, container.media_store, container.pool)

    @app.timer(1.0, name="mail")
    async def mail_notifications() -> None:
        await mailer.tick()

    return app
