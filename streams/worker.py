"""The Faust worker: projection agent and sender agent on ``firmtext.events``.

Agents are thin ``async for`` loops; the work is in projections/writer.py and
streams/dispatch.py. Positions live in PostgreSQL: when partitions are assigned the
consumer is moved to where PostgreSQL says each partition was last applied, so a
worker killed at any instant neither skips nor double-applies an event.
"""
from __future__ import annotations

import asyncio
import logging

import faust
import psycopg

from firmtext.bootstrap import Container
from firmtext.config import Settings
from projections.registry import ALL
from projections.writer import ProjectionWriter
from streams.dispatch import Dispatcher, sender_offsets
from streams.envelope import Event, decode
from streams.mailer import Mailer

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


def create_app(settings: Settings, container: Container | None = None) -> faust.App:
    """Build (not start) the worker app for ``settings``."""
    container = container or Container(settings, pool_size=4)
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

    def writer() -> ProjectionWriter:
        if "writer" not in state:
            conn = psycopg.connect(container.database_url, autocommit=True)
            state["writer"] = ProjectionWriter(conn, list(ALL.values()))
        return state["writer"]

    async def dispatcher() -> Dispatcher:
        if "dispatcher" not in state:
            from adapters.twilio_client import TwilioMessages

            carrier = TwilioMessages(settings.twilio_account_sid, settings.twilio_auth_token,
                                     settings.twilio_api_base, settings.carrier_rate_per_second)
            conn = await asyncio.to_thread(psycopg.connect, container.database_url, autocommit=True)
            state["dispatcher"] = Dispatcher(container.texting, carrier, conn, settings.public_url)
        return state["dispatcher"]

    @app.on_partitions_assigned.connect
    async def resume_from_postgres(app_, assigned, **kwargs) -> None:
        def positions() -> dict[int, int]:
            # The projection and the sender share one consumer: resume at the earlier of the two.
            # A connection of its own: the writer's may be inside a batch's transaction right
            # now (in another thread), whose uncommitted tracking must not decide where to seek.
            with psycopg.connect(container.database_url, autocommit=True) as conn:
                offsets = ProjectionWriter(conn, list(ALL.values())).resume_offsets()
                for partition, offset in sender_offsets(conn).items():
                    offsets[partition] = min(offsets.get(partition, offset), offset)
            return offsets

        offsets = await asyncio.to_thread(positions)
        for tp in assigned:
            if tp.topic == settings.events_topic:
                await app.consumer.seek(tp, offsets.get(tp.partition, 0))

    @app.agent(topic, name="project")
    async def project(stream):
        async for batch in stream.take_events(1000, within=0.05):
            events = to_events(batch)
            if events:
                await asyncio.to_thread(writer().apply, events)

    @app.agent(topic, name="send")
    async def send(stream):
        async for item in stream.events():
            for event in to_events([item]):
                await (await dispatcher()).handle(event)

    mailer = Mailer(container)  # connects on its first tick

    @app.timer(60.0, name="sweep-shredded-media")
    async def sweep_media() -> None:
        from adapters.media_sweep import sweep_shredded_media

        await asyncio.to_thread(sweep_shredded_media, container.media_store, container.pool)

    @app.timer(1.0, name="mail")
    async def mail_notifications() -> None:
        await mailer.tick()

    return app
