"""The agents' guard against skipped offsets, and turning Kafka records into events.

Offsets of the events topic are consecutive, so a record beyond the one an agent
expects means records were skipped (a seek that raced a fetch, a consumer positioned
by anything but PostgreSQL); :class:`Continuity` never lets an agent apply past such a
gap: the partition is read again from the first missing offset (streams/feed.py).
"""
from __future__ import annotations

import logging

import orjson

from domain.envelope import Event, checked, decode

log = logging.getLogger("firmtext.worker")


def _decoded(raw: bytes) -> dict:
    """The envelope in ``raw``, parsed by orjson (the profile's choice); what orjson refuses
    and the standard parser takes (a lone surrogate escape, NaN, a huge integer) is parsed
    as before, so such an event is still set aside by the projections, not dropped here."""
    try:
        return checked(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return decode(raw)


def to_events(records) -> list[Event]:
    """The envelopes among Kafka ``records`` (``.partition``, ``.offset``, ``.value``:
    aiokafka's ``ConsumerRecord``), as events."""
    events = []
    for record in records:
        try:
            events.append(Event(_decoded(record.value), record.partition, record.offset))
        except ValueError:
            # Not ours (a foreign producer); never crash the projection on it.
            log.error("skipping a record that is not a firmtext envelope at %s/%s",
                      record.partition, record.offset)
    return events


def kafka_position(record) -> tuple[int, int]:
    """(partition, offset) of a Kafka record."""
    return record.partition, record.offset


def event_position(event: Event) -> tuple[int, int]:
    return event.partition, event.offset


class Continuity:
    """Per partition, the next Kafka offset an agent expects. Offsets of the events topic
    are consecutive (no transactions, no compaction), so a record beyond the expected
    offset means records in between were skipped. Records below it are redeliveries,
    which the agents recognise by notification id and skip themselves. Every record
    counts, including one that is not an envelope (skipped, but not a gap)."""

    def __init__(self) -> None:
        self.expected: dict[int, int] = {}

    def reset(self, offsets: dict[int, int]) -> None:
        """The consumer was moved: ``offsets`` (partition -> next offset) come next."""
        self.expected.update(offsets)

    def unknown(self, items: list, where=event_position) -> set[int]:
        """Partitions of ``items`` with no expectation yet (to :meth:`reset` first)."""
        return {where(i)[0] for i in items} - self.expected.keys()

    def check(self, items: list, where=event_position) -> tuple[list, dict[int, int]]:
        """(items to handle, {partition: offset to read again from}) for records in
        arrival order (``where`` gives an item's partition and offset); changes nothing
        until :meth:`advance`."""
        expected, keep, gaps = dict(self.expected), [], {}
        for item in items:
            partition, offset = where(item)
            if partition in gaps:
                continue
            due = expected.get(partition)
            if due is not None and offset > due:
                gaps[partition] = due
                continue
            keep.append(item)
            expected[partition] = max(due or 0, offset + 1)
        return keep, gaps

    def advance(self, handled: list, where=event_position) -> None:
        """``handled`` were applied (committed): expect what follows them."""
        for item in handled:
            partition, offset = where(item)
            self.expected[partition] = max(self.expected.get(partition, 0), offset + 1)
