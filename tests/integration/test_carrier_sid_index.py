"""The carrier sid index on PostgreSQL (issue 11): whether a webhook is a carrier's retry is
decided by the event store's keyed table of sids, written in the transaction of the events
that carry them, instead of by a set in the conversation's aggregate that grew with every
text. A retry is recognised by another process and after a cold load; `firmtext migrate`
fills the table, once, from the events an older release stored; and a snapshot of that
release, which still holds the sids, loads."""
from __future__ import annotations

import uuid

import psycopg
import pytest

from domain.ids import conversation_id_of
from domain.texting import SNAPSHOT_EVERY, Texting
from firmtext.bootstrap import eventsourcing_env
from firmtext.commands.migrate import migrate

PHONE = "+15551250001"


@pytest.fixture
def stores(two_processes):
    return two_processes


def _sid() -> str:
    return "SM" + uuid.uuid4().hex


def _cold(container) -> Texting:
    return Texting(container.sealer, env=eventsourcing_env(container.database_url, 2))


def test_a_retry_is_recognised_by_another_process_and_after_a_cold_load(stores):
    _, container, other = stores
    texting = container.texting
    first_sid = _sid()
    first = texting.receive_inbound("firm-a", PHONE, first_sid, "the first")
    for _ in range(SNAPSHOT_EVERY + 3):
        texting.receive_inbound("firm-a", PHONE, _sid(), "more")
    again = other.receive_inbound("firm-a", PHONE, first_sid, "the carrier's retry, to another API process")
    assert again.duplicate and again.message_id == first.message_id
    cold = _cold(container)
    try:
        assert cold.receive_inbound("firm-a", PHONE, first_sid, "after a restart").message_id == first.message_id
        assert cold.repository.get(first.conversation_id).inbound_count == SNAPSHOT_EVERY + 4
    finally:
        cold.close()


def test_migrate_fills_the_index_once_from_an_older_releases_events(stores):
    settings, container, _ = stores
    texting = container.texting
    received = texting.receive_inbound("firm-a", PHONE, "SM" + "1" * 32, "received")
    sent = texting.request_outbound("firm-a", received.conversation_id, "alice", "sent")
    texting.record_dispatch(received.conversation_id, sent["id"], "SM" + "2" * 32, "sent")
    blocked = texting.receive_inbound("firm-a", "+15551250002", "SM" + "3" * 32, "soon blocked")
    texting.block("firm-a", blocked.conversation_id, "alice")
    texting.receive_inbound("firm-a", "+15551250002", "SM" + "4" * 32, "dropped")
    # A carrier's answer is not checked: a NUL and 5,000 characters in its sid are kept in
    # the event (as received), left out of the index (no webhook can present such a sid),
    # and neither the dispatch nor the backfill fails on it.
    odd = texting.request_outbound("firm-a", received.conversation_id, "alice", "odd answer")
    assert texting.record_dispatch(received.conversation_id, odd["id"], "SM\x00" + "a" * 5000, "sent")
    table = texting.recorder.carrier_sids_table
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        kept = conn.execute(f"SELECT conversation_id, sid, message_id FROM {table} ORDER BY sid").fetchall()
        assert [row[1] for row in kept] == ["SM" + c * 32 for c in "1234"]
        # What an older release left: its events, and neither the table's rows nor the backfill.
        conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM backfills")

    assert "carrier sid index (4 from stored events)" in migrate(settings)
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        assert conn.execute(f"SELECT conversation_id, sid, message_id FROM {table} ORDER BY sid").fetchall() == kept
    assert not any(step.startswith("carrier sid index") for step in migrate(settings))  # once
    cold = _cold(container)
    try:
        assert cold.receive_inbound("firm-a", PHONE, "SM" + "1" * 32, "retry").message_id == received.message_id
        assert cold.receive_inbound("firm-a", PHONE, "SM" + "2" * 32, "our own sid").message_id == sent["id"]
        retried_drop = cold.receive_inbound("firm-a", "+15551250002", "SM" + "4" * 32, "retry")
        assert retried_drop.duplicate and retried_drop.message_id is None
    finally:
        cold.close()


def test_an_older_releases_snapshot_holding_every_sid_still_loads(stores):
    _, container, _ = stores
    texting = container.texting
    conv_id = conversation_id_of("firm-a", texting.sealer.phone_hash("firm-a", PHONE))
    for _ in range(SNAPSHOT_EVERY + 2):
        texting.receive_inbound("firm-a", PHONE, _sid(), "text")
    legacy = '{"_type_": "carrier_sids", "_data_": {"SM%s": "m1"}}' % ("0" * 32)
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE firmtext_snapshots SET state = convert_to(jsonb_set(convert_from(state, 'UTF8')::jsonb, "
            "'{carrier_sids}', %s::jsonb)::text, 'UTF8') WHERE originator_id = %s", (legacy, conv_id)).rowcount
    assert changed == 1
    cold = _cold(container)
    try:
        assert cold.repository.get(conv_id).inbound_count == SNAPSHOT_EVERY + 2
        assert not cold.receive_inbound("firm-a", PHONE, _sid(), "a new text after the upgrade").duplicate
    finally:
        cold.close()
