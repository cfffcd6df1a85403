"""docs/events.md documents every event type the domain can emit, with every field its
contract (domain/event_contract.py) publishes."""
import re
from pathlib import Path

from domain import conversation, directory
from domain.event_contract import CONTRACTS
from eventsourcing.domain import Aggregate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def domain_event_classes() -> list[type]:
    classes = []
    for module in (conversation, directory):
        for aggregate in vars(module).values():
            if isinstance(aggregate, type) and issubclass(aggregate, Aggregate) and aggregate is not Aggregate:
                for name, member in vars(aggregate).items():
                    # Created/Event are eventsourcing's base classes, never emitted as such.
                    if isinstance(member, type) and issubclass(member, Aggregate.Event) \
                            and name not in ("Created", "Event"):
                        classes.append(member)
    return classes


def _sections() -> dict[str, str]:
    """Wire type -> the text of its section in docs/events.md."""
    parts = re.split(r"^### `([A-Za-z]+\.[A-Za-z]+)`", DOCS.read_text(), flags=re.M)
    return {parts[i]: re.split(r"^#{1,3} ", parts[i + 1], flags=re.M)[0] for i in range(1, len(parts), 2)}


def test_every_event_type_is_documented():
    documented = set(_sections())
    published = {c.wire_type for c in CONTRACTS.values()}
    assert len(published) > 20
    assert published - documented == set(), "document these in docs/events.md"
    assert documented - published == set(), "docs/events.md documents events that no longer exist"


def test_every_published_field_is_documented_under_its_type():
    sections = _sections()
    missing = {c.wire_type: sorted(f for f in c.fields if f"`{f}`" not in sections.get(c.wire_type, ""))
               for c in CONTRACTS.values()}
    assert {t: f for t, f in missing.items() if f} == {}, "document these fields in docs/events.md"
