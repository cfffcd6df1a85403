"""The sending lanes against real PostgreSQL and the carrier simulator over real HTTP:
one firm's backlog never delays another number, a conversation's texts reach the carrier
in order, two workers never send a text twice, and a send interrupted after the carrier
accepted it is reconciled instead of sent again."""
from __future__ import annotations

import asyncio
import time
from uuid import UUID

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from adapters.carrier_simulator import create_simulator
from firmtext.commands.migrate import apply_tables
from adapters.twilio_client import TwilioMessages
from firmtext.bootstrap import Container
from streams.dispatch import Dispatcher, Undecided, record_requests
from domain.envelope import Event
from streams.relay import chain_envelopes
from streams.send_lanes import SendingLanes
from tests.local_server import serving

FIRM_A, FIRM_B = "+15557770000", "+15558880000"


@pytest.fixture
def container(make_database, test_settings):
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        apply_tables(conn)
    c = Container(test_settings.with_overrides(database_url=url), pool_size=4)
    yield c
    c.close()


@pytest.fixture
async def simulator(container):
    """(settings pointing at an in-process simulator, an HTTP client for its controls)."""
    holder = {}

    def make(base):
        holder["settings"] = container.settings.with_overrides(twilio_api_base=base)
        return create_simulator(holder["settings"], callback_delay=0.01)

    async with serving(make), httpx.AsyncClient(timeout=10) as http:
        yield holder["settings"], http


class Worker:
    """One worker's sending side: its own carrier client (pacing), pool and lanes."""

    def __init__(self, container: Container, settings, rate: float) -> None:
        self.carrier = TwilioMessages.from_settings(settings.with_overrides(carrier_rate_per_second=rate))
        self.pool = ConnectionPool(container.database_url, min_size=1, max_size=4, open=True)
        self.lanes = SendingLanes(self.pool, Dispatcher(container.texting, self.carrier, "http://127.0.0.1:1"),
                                  pace_seconds=1.0 / rate)
        self.task = asyncio.create_task(self.lanes.run(interval=0.05))

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.lanes.close()
        await self.carrier.aclose()
        self.pool.close()


def queue(texting, firm_id: str, number: str, client: str, bodies: list[str]) -> str:
    """Request ``bodies`` to ``client`` from firm ``firm_id``; returns the conversation id."""
    texting.configure_firm(firm_id, firm_id, number)
    conv, _ = texting.open_conversation(firm_id, client, "alice")
    for body in bodies:
        texting.request_outbound(firm_id, conv.id, "alice", body)
    return str(conv.id)


def record_all(container) -> None:
    """What the send agent does with the log so far (every event on partition 0)."""
    texting = container.texting
    notifications = texting.recorder.select_notifications(start=1, limit=10_000)
    events = [Event(env, 0, i) for i, env in enumerate(chain_envelopes(texting, notifications, {}))]
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        record_requests(conn, texting, events)


async def accepted(http, settings, count: int, timeout: float = 20.0) -> list[dict]:
    """The simulator's accepted messages, once there are at least ``count``."""
    deadline = time.monotonic() + timeout
    while True:
        found = (await http.get(f"{settings.twilio_api_base}/_sim/messages")).json()
        if len(found["messages"]) >= count or time.monotonic() > deadline:
            return [{**m, "accepted_at": found["accepted_at"][m["sid"]]} for m in found["messages"]]
        await asyncio.sleep(0.05)


async def test_a_backlog_on_one_number_never_delays_another_number(container, simulator):
    settings, http = simulator
    await asyncio.to_thread(queue, container.texting, "firm-a", FIRM_A, "+15557770001",
                            [f"a{i:02d}" for i in range(30)])
    await asyncio.to_thread(queue, container.texting, "firm-b", FIRM_B, "+15558880001", ["b"])
    await asyncio.to_thread(record_all, container)  # B's text is recorded after all of A's
    began = time.time()
    worker = Worker(container, settings, rate=1.0)  # Twilio's pace for a long code
    try:
        messages = await accepted(http, settings, 3)
    finally:
        await worker.stop()
    b = [m for m in messages if m["from"] == FIRM_B]
    assert b, "firm B's text never reached the carrier"
    assert b[0]["accepted_at"] - began < 1.5, "firm B waited behind firm A's backlog"
    a = [m for m in messages if m["from"] == FIRM_A]
    assert [m["body"] for m in a] == [f"a{i:02d}" for i in range(len(a))]  # in request order
    assert len(a) <= 3, "firm A's number was sent faster than its pace"


async def test_two_workers_send_every_text_once_in_conversation_order(container, simulator):
    settings, http = simulator
    clients = [f"+1555777{i:04d}" for i in range(1, 5)]
    for i, client in enumerate(clients):
        await asyncio.to_thread(queue, container.texting, f"firm-{i}", f"+1555888{i:04d}", client,
                                [f"{i}-{n}" for n in range(8)])
    await asyncio.to_thread(record_all, container)
    await asyncio.to_thread(record_all, container)  # a redelivery (rebalance) records nothing twice
    workers = [Worker(container, settings, rate=20.0) for _ in range(2)]
    try:
        messages = await accepted(http, settings, 32)
        await asyncio.sleep(1.0)  # a double send would show up now
        messages = await accepted(http, settings, 33, timeout=0)
    finally:
        for worker in workers:
            await worker.stop()
    assert len(messages) == 32
    for i, client in enumerate(clients):
        assert [m["body"] for m in messages if m["to"] == client] == [f"{i}-{n}" for n in range(8)]


async def test_an_interrupted_send_the_carrier_accepted_is_reconciled_not_sent_again(container, simulator):
    settings, http = simulator
    conv = await asyncio.to_thread(queue, container.texting, "firm-r", FIRM_A, "+15557770002", ["only once"])
    await asyncio.to_thread(record_all, container)
    # The carrier accepts the text but answers late; the worker dies while it waits.
    (await http.post(f"{settings.twilio_api_base}/_sim/faults", json={"answer_delay": 5, "count": 1})).raise_for_status()
    dying = Worker(container, settings, rate=20.0)
    [first] = await accepted(http, settings, 1)
    await dying.stop()
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        conn.execute("UPDATE sending_lanes SET lease_until = now() - interval '1 second'")  # as if it lapsed
    survivor = Worker(container, settings, rate=20.0)
    try:
        async def recorded():
            message = container.texting.repository.get(UUID(conv)).messages
            return next(iter(message.values()))["carrier_sid"]
        deadline = time.monotonic() + 10
        while not await recorded():
            assert time.monotonic() < deadline, "the interrupted send was never settled"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        messages = await accepted(http, settings, 2, timeout=0)
    finally:
        await survivor.stop()
    assert [m["body"] for m in messages] == ["only once"], "the carrier was asked twice"
    assert await recorded() == first["sid"]


def test_a_batch_requesting_nothing_may_skip_its_transaction_and_is_recorded_with_the_next(container):
    """Under inbound load most batches of the send agent request no text; with track=False
    such a batch costs no transaction (its position is written with a later batch), a batch
    that requests texts still records them and its position, and reading the skipped events
    again (a restart) requests nothing twice."""
    from uuid import UUID

    from streams.dispatch import sender_offsets

    texting = container.texting
    texting.configure_firm("firm-t", "T LLP", "+15557771111")
    texting.receive_inbound("firm-t", "+15551112222", "SM" + "a" * 32, "hello")
    inbound = [Event(env, 0, i) for i, env in enumerate(chain_envelopes(
        texting, texting.recorder.select_notifications(start=1, limit=100), {}))]
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        assert record_requests(conn, texting, inbound, track=False) == 0
        assert sender_offsets(conn) == {}  # nothing written
        conv = texting.get_or_none(UUID(inbound[-1].stream_id))
        texting.request_outbound("firm-t", conv.id, "alice", "reply")
        every = [Event(env, 0, i) for i, env in enumerate(chain_envelopes(
            texting, texting.recorder.select_notifications(start=1, limit=100), {}))]
        assert record_requests(conn, texting, every, track=False) == 1
        assert sender_offsets(conn) == {0: len(every)}
        assert record_requests(conn, texting, every) == 1  # read again: one row still
        assert conn.execute("SELECT count(*) FROM outbound_dispatches").fetchone()[0] == 1


async def test_a_slow_status_follow_up_never_holds_up_a_new_text(container, simulator):
    """The follow-up asks the carrier about overdue texts, up to 50 a round, each waiting on
    the carrier. It runs beside the lanes: while one round hangs, a new text still goes."""
    settings, http = simulator

    class Hanging:
        after = 120.0
        rounds = 0

        async def tick(self) -> int:
            Hanging.rounds += 1
            await asyncio.sleep(30)  # a carrier that does not answer its lookups
            return 0

    await asyncio.to_thread(queue, container.texting, "firm-f", FIRM_A, "+15557770009", ["still goes"])
    await asyncio.to_thread(record_all, container)
    carrier = TwilioMessages.from_settings(settings.with_overrides(carrier_rate_per_second=20.0))
    pool = ConnectionPool(container.database_url, min_size=1, max_size=4, open=True)
    lanes = SendingLanes(pool, Dispatcher(container.texting, carrier, "http://127.0.0.1:1"),
                         pace_seconds=0.05, follow_up=Hanging())
    began = time.monotonic()
    task = asyncio.create_task(lanes.run(interval=0.05))
    try:
        messages = await accepted(http, settings, 1, timeout=5.0)
        assert time.monotonic() - began < 2.0
        assert [m["body"] for m in messages] == ["still goes"] and Hanging.rounds == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await carrier.aclose()
        pool.close()


async def backing_off_after_a_503(container, settings, http, name: str):
    """A lane of its own (pool connections named ``name``) that claimed FIRM_A's queued
    text and is backing off (2-4 s) after the carrier refused its first request with a
    503: (carrier client, pool, claim, the sending task)."""
    await asyncio.to_thread(record_all, container)
    (await http.post(f"{settings.twilio_api_base}/_sim/faults", json={"status": 503, "count": 1})).raise_for_status()
    carrier = TwilioMessages.from_settings(settings, backoff_base=4.0)
    pool = ConnectionPool(container.database_url, min_size=1, max_size=2, open=True,
                          kwargs={"application_name": name})
    lanes = SendingLanes(pool, Dispatcher(container.texting, carrier, "http://127.0.0.1:1"))
    assert await asyncio.to_thread(lanes._take_lane, FIRM_A)
    claim = await asyncio.to_thread(lanes._claim, FIRM_A)
    sending = asyncio.create_task(lanes._send(claim))
    await asyncio.sleep(0.5)  # its first request was refused with the 503; it is backing off
    return carrier, pool, claim, sending


async def test_a_lane_that_lost_its_lease_mid_send_never_asks_the_carrier_again(container, simulator):
    """A lane stalled after its claim (here: backing off after a 503) whose lease lapsed
    meanwhile: another worker takes the number over, finds nothing at the carrier and
    sends. The stalled lane must then not send too: it confirms its lease before each
    request to the carrier."""
    settings, http = simulator
    await asyncio.to_thread(queue, container.texting, "firm-l", FIRM_A, "+15557770003", ["only once"])
    carrier, pool, claim, sending = await backing_off_after_a_503(container, settings, http, "stalled")
    survivor = None
    try:
        with psycopg.connect(container.database_url, autocommit=True) as conn:
            conn.execute("UPDATE sending_lanes SET lease_until = now() - interval '1 second'")  # it lapsed
        survivor = Worker(container, settings, rate=20.0)
        [sent] = await accepted(http, settings, 1)
        outcome = await asyncio.wait_for(sending, 10)
        await asyncio.sleep(0.3)
        messages = await accepted(http, settings, 2, timeout=0)
    finally:
        if survivor is not None:
            await survivor.stop()
        await carrier.aclose()
        pool.close()
    assert [m["body"] for m in messages] == ["only once"], "the lane that lost its lease sent the text again"
    assert outcome == "lease lost"
    assert sent["sid"] in {m.get("carrier_sid") for m in
                           container.texting.repository.get(UUID(claim.conversation_id.hex)).messages.values()}


async def test_a_lane_that_cannot_confirm_its_lease_sends_nothing_and_fails_nothing(container, simulator):
    """PostgreSQL goes away while a lane backs off after a 503 (a database crash, as the
    fault drill does): the lease check before the next request cannot be answered. That is
    not the carrier refusing the text: nothing is sent, nothing is marked failed, and the
    text is sent once PostgreSQL is back. (It was marked failed, never sent.)"""
    settings, http = simulator
    conversation = await asyncio.to_thread(queue, container.texting, "firm-d", FIRM_A, "+15557770004",
                                           ["after the crash"])
    carrier, pool, claim, sending = await backing_off_after_a_503(container, settings, http, "stalled-lane")
    try:
        with psycopg.connect(container.database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'stalled-lane'")  # its connections die with the server
        with pytest.raises(Undecided):  # not an outcome: the lane tries again after its backoff
            await asyncio.wait_for(sending, 10)
        assert await accepted(http, settings, 1, timeout=0) == [], "sent without a confirmed lease"
        status = container.texting.repository.get(UUID(conversation)).messages[claim.message_id]["status"]
        assert status != "failed", "a database error was taken for the carrier refusing the text"
        # Whoever holds the number next (here: another worker, once this lease lapsed)
        # finds the claim interrupted, finds nothing at the carrier and sends it, once.
        with psycopg.connect(container.database_url, autocommit=True) as conn:
            conn.execute("UPDATE sending_lanes SET lease_until = now() - interval '1 second'")
        survivor = Worker(container, settings, rate=20.0)
        try:
            await accepted(http, settings, 1)
            await asyncio.sleep(0.3)
            assert [m["body"] for m in await accepted(http, settings, 2, timeout=0)] == ["after the crash"]
        finally:
            await survivor.stop()
    finally:
        await carrier.aclose()
        pool.close()
