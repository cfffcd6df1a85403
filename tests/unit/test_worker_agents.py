"""The worker's Faust agents, driven through Faust's own ``agent.test_context()`` over
in-memory parts: the same agent functions and projection functions the worker runs,
with the projections in memory (projections/memory_writer.py) instead of PostgreSQL."""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from domain.envelope import encode
from firmtext.config import Settings
from projections.inbox import CONVERSATIONS
from projections.memory_writer import MemoryWriter
from projections.registry import ALL
from streams.agents import WorkerParts
from streams.relay import chain_envelopes
from streams.worker import build_app
from tests.unit.fakes import in_memory_texting

FIRM = "firm-a"


def envelopes() -> list[dict]:
    """A firm, and a client who texts it twice: the envelopes the relay publishes."""
    app = in_memory_texting()
    app.configure_firm(FIRM, "A Law", "+15552000001")
    app.receive_inbound(FIRM, "+15557770001", "SM" + "1" * 32, "Hello")
    app.receive_inbound(FIRM, "+15557770001", "SM" + "2" * 32, "Are you there?")
    return chain_envelopes(app, list(app.recorder.select_notifications(start=1, limit=100)), {})


class Recorded:
    def __init__(self) -> None:
        self.batches: list[list] = []

    def __call__(self, events) -> None:
        self.batches.append(events)


@pytest.fixture
def worker(tmp_path):
    settings = replace(Settings.from_env(secrets=False), var_dir=tmp_path, app_id="agents-test")
    writer, recorded = MemoryWriter(list(ALL.values())), Recorded()
    parts = WorkerParts(project=writer.apply, record=recorded, positions=lambda: ({}, {}))
    # A broker never connected to: nothing starts the app, test_context() feeds the agent.
    return build_app(settings, "kafka://127.0.0.1:9", parts), writer, recorded


async def until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the agent did not get there in time")


def inbox(writer: MemoryWriter) -> list[dict]:
    return writer.stores["inbox"].select(CONVERSATIONS, firm_id=FIRM)


async def put_all(agent, values: list[bytes]) -> None:
    for value in values:
        await agent.put(value, key=FIRM.encode(), partition=0)


def test_the_agents_are_named_and_reachable(worker):
    app, _, _ = worker
    assert {"project", "send"} <= {a.name.rsplit(".", 1)[-1] for a in app.agents.values()}


def agent_of(app, name: str):
    return next(a for a in app.agents.values() if a.name.rsplit(".", 1)[-1] == name)


async def test_a_received_text_appears_in_the_inbox(worker):
    app, writer, _ = worker
    async with agent_of(app, "project").test_context() as agent:
        await put_all(agent, [encode(e) for e in envelopes()])
        await until(lambda: inbox(writer) and inbox(writer)[0]["inbound_count"] == 2)
    row = inbox(writer)[0]
    assert row["message_count"] == 2 and row["last_message"]["direction"] == "inbound"


async def test_a_redelivered_event_is_applied_once(worker):
    app, writer, _ = worker
    values = [encode(e) for e in envelopes()]
    async with agent_of(app, "project").test_context() as agent:
        await put_all(agent, values)
        await put_all(agent, values[-2:])  # Kafka hands the last two out again (new offsets)
        newest = json.loads(values[-1])["notification_id"]
        await until(lambda: writer.applied(0) == newest and writer.handed == len(values) + 2)
    assert inbox(writer)[0]["inbound_count"] == 2  # not 3


async def test_a_poison_event_is_set_aside_and_the_next_one_applied(worker):
    app, writer, _ = worker
    good = envelopes()
    # An InboundReceived without the fields its handlers read: they raise on it.
    poison = dict(good[-1], notification_id=good[-1]["notification_id"] + 1, data={"message_id": "m-bad"})
    later = dict(good[-1], notification_id=poison["notification_id"] + 1,
                 data={**good[-1]["data"], "message_id": "m-later"})
    async with agent_of(app, "project").test_context() as agent:
        await put_all(agent, [encode(e) for e in good + [poison, later]])
        await until(lambda: writer.applied(0) == later["notification_id"])
    assert inbox(writer)[0]["inbound_count"] == 3  # the two texts, then the one after the poison
    assert {(f[0], f[2]) for f in writer.failures} >= {("inbox", len(good))}  # (projection, offset)


async def test_an_unknown_event_type_is_counted_and_the_next_event_applied(worker):
    app, writer, _ = worker
    good = envelopes()
    strange = dict(good[-1], type="Conversation.Teleported", notification_id=good[-1]["notification_id"] + 1)
    newer = dict(good[-1], schema_version=99, notification_id=strange["notification_id"] + 1)
    later = dict(good[-1], notification_id=newer["notification_id"] + 1, data={**good[-1]["data"], "message_id": "m3"})
    async with agent_of(app, "project").test_context() as agent:
        await put_all(agent, [encode(e) for e in good + [strange, newer, later]])
        await until(lambda: writer.applied(0) == later["notification_id"])
    assert writer.unknown == {("Conversation.Teleported", "1"): 1, ("Conversation.InboundReceived", "99"): 1}
    assert inbox(writer)[0]["inbound_count"] == 3 and not writer.failures


async def test_the_send_agent_hands_on_every_envelope_and_skips_foreign_records(worker):
    app, _, recorded = worker
    values = [encode(e) for e in envelopes()]
    async with agent_of(app, "send").test_context() as agent:
        await put_all(agent, values[:1] + [b"not an envelope"] + values[1:])
        await until(lambda: sum(len(b) for b in recorded.batches) == len(values))
    assert [e.offset for b in recorded.batches for e in b] == [0] + list(range(2, len(values) + 1))
