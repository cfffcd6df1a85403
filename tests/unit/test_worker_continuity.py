"""The worker's guard against skipped offsets (streams/continuity.py): whatever moves
the consumer past events no agent applied, an agent must never apply past a gap."""
from domain.envelope import Event
from streams.continuity import Continuity, kafka_position


def at(partition: int, *offsets: int) -> list[Event]:
    return [Event({"notification_id": 100 + o}, partition, o) for o in offsets]


def test_consecutive_offsets_pass_and_move_the_expectation_only_once_handled():
    c = Continuity()
    c.reset({0: 5})
    keep, gaps = c.check(at(0, 5, 6, 7))
    assert [e.offset for e in keep] == [5, 6, 7] and gaps == {}
    assert c.check(at(0, 8))[1] == {0: 5}  # not handled yet: 8 is still a gap
    c.advance(keep)
    assert c.check(at(0, 8)) == (at(0, 8), {})


def test_a_gap_stops_its_partition_at_the_first_missing_offset_and_spares_the_others():
    c = Continuity()
    c.reset({0: 5, 1: 0})
    keep, gaps = c.check(at(0, 5) + at(1, 0) + at(0, 9, 10) + at(1, 1))
    assert [(e.partition, e.offset) for e in keep] == [(0, 5), (1, 0), (1, 1)]
    assert gaps == {0: 6}


def test_redeliveries_below_the_expectation_are_handed_on_for_the_agent_to_skip():
    c = Continuity()
    c.reset({2: 10})
    keep, gaps = c.check(at(2, 7, 8, 9, 10, 11))
    assert [e.offset for e in keep] == [7, 8, 9, 10, 11] and gaps == {}
    c.advance(keep)
    assert c.expected == {2: 12}


def test_a_partition_never_positioned_is_taken_as_it_comes():
    c = Continuity()
    keep, gaps = c.check(at(3, 40, 41))
    assert len(keep) == 2 and gaps == {}


def test_records_that_are_not_envelopes_count_too():
    # The agents check and advance over every Kafka record (kafka_position), decoding only
    # afterwards: a foreign record is skipped, yet never mistaken for a gap.
    class Item:  # aiokafka's ConsumerRecord, as far as the agents read it
        def __init__(self, partition, offset, value):
            self.partition, self.offset, self.value = partition, offset, value

    batch = [Item(0, 3, b"{}"), Item(0, 4, b"not json"), Item(0, 5, b"{}")]
    c = Continuity()
    c.reset({0: 3})
    keep, gaps = c.check(batch, kafka_position)
    assert keep == batch and gaps == {}
    c.advance(keep, kafka_position)
    assert c.check([Item(0, 6, b"{}")], kafka_position)[1] == {}
    assert c.check([Item(0, 8, b"{}")], kafka_position)[1] == {0: 6}
