"""An envelope whose type (or schema version) no projection knows, published to the real
topic: the real worker goes on to the events after it, counts it per (type, version),
and `firmtext projections status` reports it to operators (table and --json)."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import psycopg

from domain.envelope import encode
from streams.kafka import new_producer
from streams.relay import chain_envelopes
from tests.unit.fakes import in_memory_texting


def _envelopes(firm: str) -> list[dict]:
    app = in_memory_texting()
    app.configure_firm(firm, "A Law", "+15552000001")
    app.receive_inbound(firm, "+15557770001", "SM" + "1" * 32, "Hello")
    good = chain_envelopes(app, list(app.recorder.select_notifications(start=1, limit=100)), {})
    last = good[-1]
    unknown = [dict(last, type="Conversation.Teleported"), dict(last, schema_version=7),
               dict(last, type="Conversation.Teleported")]
    later = dict(last, data={**last["data"], "message_id": "m-later"})
    return good + [dict(env, notification_id=last["notification_id"] + n) for n, env in enumerate(unknown + [later], 1)]


async def _publish(bootstrap: str, topic: str, firm: str, envelopes: list[dict]) -> None:
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for env in envelopes:
            await producer.send_and_wait(topic, encode(env), key=firm.encode())
    finally:
        await producer.stop()


def _status(settings, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "firmtext", "projections", "status", *args], check=True,
                          env={**os.environ, **settings.as_env(), "COLUMNS": "200"}, capture_output=True,
                          text=True, timeout=120).stdout


async def test_an_unknown_event_is_counted_reported_and_the_worker_goes_on(test_settings, make_database, stack):
    token = uuid.uuid4().hex[:10]
    settings = test_settings.with_overrides(database_url=make_database(), events_topic=f"firmtext.unknown.{token}",
                                            app_id=f"firmtext-unknown-{token}")
    stack(("migrate", "worker"), settings=settings)
    firm = f"firm-{token}"
    await _publish(settings.kafka_bootstrap, settings.events_topic, firm, _envelopes(firm))

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        deadline, count = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            row = conn.execute("SELECT inbound_count FROM pj_inbox.conversations WHERE firm_id = %s",
                               (firm,)).fetchone() if conn.execute("SELECT to_regclass('pj_inbox.conversations')"
                                                                   ).fetchone()[0] else None
            count = row and row[0]
            if count == 2:
                break
            await asyncio.sleep(0.2)
        assert count == 2, "the text after the unknown events never reached the inbox"

    status = json.loads(_status(settings, "--json"))
    assert {(u["event_type"], u["schema_version"]): u["events"] for u in status["unknown_events"]} == {
        ("Conversation.Teleported", "1"): 2, ("Conversation.InboundReceived", "7"): 1}
    assert status["failures"] == []
    table = _status(settings)
    assert "no projection knows" in table and "Conversation.Teleported" in table
