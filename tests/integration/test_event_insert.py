"""The event store's insert (adapters/unit_recorder.py over eventsourcing's): one
transaction's events get notification ids in the order they were given (the relay and
the hash chain rely on it), those ids are what the insert returns, the bytes come back
unchanged, and a version already stored refuses the whole insert."""
from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent


def stored(originator: uuid.UUID, version: int, state: bytes) -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version,
                       topic="domain.conversation:Conversation.InboundReceived", state=state)


def test_one_inserts_events_get_ids_in_the_given_order_and_keep_their_bytes(two_processes):
    _, container, _ = two_processes
    recorder = container.texting.recorder
    a, b = uuid.uuid4(), uuid.uuid4()
    # Interleaved streams, odd bytes (NUL, high bytes): the order given is the order kept.
    events = [stored(a, 1, b"\x00a1"), stored(b, 1, b"\xffb1"), stored(a, 2, b"a2"), stored(b, 2, b""),
              stored(a, 3, bytes(range(256)))]
    ids = recorder.insert_events(events)
    assert len(ids) == 5 and ids == sorted(ids) and ids[-1] - ids[0] == 4
    got = recorder.select_notifications(start=ids[0], limit=10)
    assert [(n.id, n.originator_id, n.originator_version, n.state) for n in got] == \
        [(i, e.originator_id, e.originator_version, e.state) for i, e in zip(ids, events)]


def test_a_version_already_stored_refuses_the_whole_insert(two_processes):
    _, container, _ = two_processes
    recorder = container.texting.recorder
    a, b = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([stored(a, 1, b"first")])
    before = recorder.max_notification_id()
    with pytest.raises(IntegrityError):
        recorder.insert_events([stored(b, 1, b"would be fine"), stored(a, 1, b"a second version 1")])
    assert recorder.max_notification_id() == before
    assert [e.state for e in recorder.select_events(b)] == []
