"""docs/events.md documents every event type the domain can emit."""
import re
from pathlib import Path

from domain import conversation, directory
from eventsourcing.domain import Aggregate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def domain_event_types() -> set[str]:
    types = set()
    for module in (conversation, directory):
        for aggregate in vars(module).values():
            if isinstance(aggregate, type) and issubclass(aggregate, Aggregate) and aggregate is not Aggregate:
                for name, member in vars(aggregate).items():
                    # Created/Event are eventsourcing's base classes, never emitted as such.
                    if isinstance(member, type) and issubclass(member, Aggregate.Event) \
                            and name not in ("Created", "Event"):
                        types.add(member.__qualname__)
    return types


def test_every_event_type_is_documented():
    documented = set(re.findall(r"^### `([A-Za-z]+\.[A-Za-z]+)`", DOCS.read_text(), re.M))
    emitted = domain_event_types()
    assert len(emitted) > 20
    assert emitted - documented == set(), "document these in docs/events.md"
    assert documented - emitted == set(), "docs/events.md documents events that no longer exist"
