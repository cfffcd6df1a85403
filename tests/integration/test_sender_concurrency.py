"""Two workers handling the same send at once (a rebalance moved the partition while the
first was still talking to the carrier): both record it, both run their sending lanes,
and the carrier is asked once."""
from __future__ import annotations

import asyncio

from psycopg_pool import ConnectionPool

from adapters.twilio_client import CarrierReceipt
from domain.envelope import Event
from streams.dispatch import Dispatcher, record_requests
from streams.relay import chain_envelopes
from streams.send_lanes import SendingLanes
from tests.integration.test_sending_lanes import container  # noqa: F401  (the fixture)


class SlowCarrier:
    """Records every send; answers after a pause long enough for a second sender to try."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, **request) -> CarrierReceipt:
        self.sent.append(request)
        await asyncio.sleep(0.5)
        return CarrierReceipt(sid=f"SM{len(self.sent):032d}", status="queued")


async def test_a_send_in_flight_on_one_worker_is_not_sent_again_by_another(container):
    texting = container.texting
    await asyncio.to_thread(texting.configure_firm, "firm-send", "Send Law", "+15557770000")
    conv, _ = await asyncio.to_thread(texting.open_conversation, "firm-send", "+15557770001", "alice")
    message = await asyncio.to_thread(texting.request_outbound, "firm-send", conv.id, "alice", "Hello")
    notifications = texting.recorder.select_notifications(start=1, limit=100)
    [requested] = [Event(env, 0, i) for i, env in enumerate(chain_envelopes(texting, notifications, {}))
                   if env["type"] == "Conversation.OutboundRequested"]

    carrier = SlowCarrier()
    pools = [ConnectionPool(container.database_url, min_size=1, max_size=2, open=True) for _ in range(2)]
    try:
        workers = [SendingLanes(pool, Dispatcher(texting, carrier, "http://127.0.0.1:1")) for pool in pools]
        for pool in pools:
            with pool.connection() as conn:
                await asyncio.to_thread(record_requests, conn, texting, [requested])
        for _ in range(2):  # each worker looks for due numbers twice, both while the send is in flight
            await asyncio.gather(*(w.tick() for w in workers))
            await asyncio.sleep(0.2)
        await asyncio.gather(*(task for w in workers for task in list(w.lanes.values())))
    finally:
        for pool in pools:
            pool.close()
    assert [r["body"] for r in carrier.sent] == ["Hello"]
    assert texting.repository.get(conv.id).messages[message["id"]]["carrier_sid"] == "SM" + "1".zfill(32)
