"""``firmtext relay``: publish the event store's notification log to Kafka, forever."""
from __future__ import annotations

import argparse
import asyncio
import signal

from firmtext import logs
from firmtext.bootstrap import Container
from firmtext.config import Settings
from firmtext.gc_tuning import settle
from streams.kafka import new_producer
from streams.relay import Relay


async def _main(settings: Settings) -> None:
    container = Container(settings, pool_size=2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        relay = Relay(container.texting, container.database_url,
                      lambda: new_producer(container.kafka_bootstrap), settings.events_topic)
        settle()  # built: what it holds now lives as long as the process
        await relay.run(stop)
    finally:
        container.close()


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    asyncio.run(_main(settings))
    return 0


def register(sub) -> None:
    p = sub.add_parser("relay", help="run the outbox relay (event store -> Kafka)",
                       description="Tails the event store in order and publishes every event to the "
                                   "events topic. Safe to run several: one is active, the rest stand by.")
    p.set_defaults(func=run)
