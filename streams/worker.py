"""The Faust worker: projection agent and sender agent on ``firmtext.events``.

Agents are thin ``async for`` loops (streams/agents.py); the work is in
projections/writer.py and streams/dispatch.py, reached through WorkerParts
(streams/worker_parts.py), which tests replace. Positions live in PostgreSQL, never in Kafka's committed offsets:

- Whenever Faust would seek to the committed offsets (after every rebalance, and when
  its flow was paused) it seeks to where PostgreSQL says each partition was last
  applied instead. Faust acks a batch even when its agent died halfway through it
  (streams/batching.py acks in a ``finally``), so its committed offset can be past events that
  were never applied; seeking there would skip them for good.
- Each agent checks that the offsets it is handed follow on from the last ones it
  handled (:class:`Continuity`). A gap (events Faust skipped) is never applied past:
  the partition is moved back to the first missing offset and read again.

So a worker killed or crashing at any instant neither skips nor double-applies an event.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio

import faust
from faust.types import TP

from firmtext.config import Settings
from streams.agents import AgentWork, WorkerParts, consumer_start, project_agent, projection_start, send_agent
from streams.mailer import Mailer

if TYPE_CHECKING:  # built by the composition root (firmtext/commands/worker.py)
    from firmtext.bootstrap import Container


def build_app(settings: Settings, broker: str, parts: WorkerParts) -> faust.App:
    """The Faust app with the two agents (``app.agents["project"]``, ``["send"]``) over
    ``parts``, and PostgreSQL's positions taking over Faust's seeks. Builds, never starts."""
    datadir = settings.var_dir / "faust" / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    app = faust.App(
        settings.app_id, broker=broker, store="memory://",
        datadir=str(datadir),  # never the current directory
        autodiscover=False, web_enabled=False, topic_disable_leader=True, topic_allow_declare=False,
        consumer_auto_offset_reset="earliest", broker_session_timeout=6.0, broker_heartbeat_interval=1.0,
        broker_commit_every=500, stream_wait_empty=False)
    topic = app.topic(settings.events_topic, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw", internal=False)

    async def seek(partition: int, offset: int) -> None:
        await app.consumer.seek(TP(settings.events_topic, partition), offset)

    projected = AgentWork("projections", parts.project, parts.positions, projection_start, seek)
    sent = AgentWork("sender", parts.record, parts.positions, consumer_start, seek)

    async def seek_to_postgres() -> dict:
        """Move every assigned partition to the earlier of the projections' and the
        sender's positions (they share the consumer). Returns {TP: offset}."""
        projection_at, sender_at = await asyncio.to_thread(parts.positions)
        moved = {}
        for tp in app.consumer.assignment():
            if tp.topic == settings.events_topic:
                p = tp.partition
                moved[tp] = consumer_start(p, projection_at, sender_at)
                await app.consumer.seek(tp, moved[tp])
                projected.continuity.reset({p: projection_at.get(p, 0)})
                sent.continuity.reset({p: moved[tp]})
        return moved

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

    app.agent(topic, name="project")(project_agent(projected))
    app.agent(topic, name="send")(send_agent(sent))
    return app


def create_app(settings: Settings, container: "Container", parts: WorkerParts | None = None) -> faust.App:
    """Build (not start) the worker app for ``settings``: the agents over PostgreSQL,
    the sending lanes, the media sweep and the mailer."""
    from streams.worker_parts import PostgresParts

    parts = parts or PostgresParts(settings, container).parts()
    app = build_app(settings, f"kafka://{container.kafka_bootstrap}", parts)

    if parts.run_lanes is not None:
        @app.task
        async def run_sending_lanes() -> None:
            await parts.run_lanes()

    mailer = Mailer(container)  # connects on its first tick

    @app.timer(60.0, name="sweep-shredded-media")
    async def sweep_media() -> None:
        from adapters.media_sweep import sweep_shredded_media

        await asyncio.to_thread(sweep_shredded_media, container.media_store, container.pool)

    @app.timer(1.0, name="mail")
    async def mail_notifications() -> None:
        await mailer.tick()

    return app
