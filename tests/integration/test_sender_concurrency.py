"""Two workers handling the same send at once (a rebalance moved the partition while the
first was still talking to the carrier): the carrier is asked once."""
from __future__ import annotations

import asyncio

import psycopg
import pytest

from adapters.pg_schema import apply_core
from adapters.twilio_client import CarrierReceipt
from firmtext.bootstrap import Container
from streams.dispatch import Dispatcher
from domain.envelope import Event
from streams.relay import chain_envelopes


class SlowCarrier:
    """Records every send; answers after a pause long enough for a second sender to try."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, **request) -> CarrierReceipt:
        self.sent.append(request)
        await asyncio.sleep(0.5)
        return CarrierReceipt(sid=f"SM{len(self.sent):032d}", status="queued")


@pytest.fixture
def container(make_database, test_settings):
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        apply_core(conn)
    c = Container(test_settings.with_overrides(database_url=url), pool_size=4)
    yield c
    c.close()


async def test_a_send_in_flight_on_one_worker_is_not_sent_again_by_another(container):
    texting = container.texting
    await asyncio.to_thread(texting.configure_firm, "firm-send", "Send Law", "+15557770000")
    conv, _ = await asyncio.to_thread(texting.open_conversation, "firm-send", "+15557770001", "alice")
    message = await asyncio.to_thread(texting.request_outbound, "firm-send", conv.id, "alice", "Hello")
    notifications = texting.recorder.select_notifications(start=1, limit=100)
    [requested] = [Event(env, 0, i) for i, env in enumerate(chain_envelopes(texting, notifications, {}))
                   if env["type"] == "Conversation.OutboundRequested"]

    carrier = SlowCarrier()
    connections = [await asyncio.to_thread(psycopg.connect, container.database_url, autocommit=True)
                   for _ in range(2)]
    try:
        workers = [Dispatcher(texting, carrier, conn, "http://127.0.0.1:1") for conn in connections]
        await asyncio.gather(*(w.handle(requested) for w in workers))
    finally:
        for conn in connections:
            conn.close()
    assert [r["body"] for r in carrier.sent] == ["Hello"]
    assert texting.repository.get(conv.id).messages[message["id"]]["carrier_sid"] == "SM" + "1".zfill(32)
