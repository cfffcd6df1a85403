"""The published contract of every domain event: its wire name, schema version and fields.

What downstream services, auditors and the hash chain see is declared here, not derived
from Python names: renaming an ``@event`` class or one of its parameters changes nothing
on the wire as long as this table keeps the wire names (map the new attribute name under
the old wire field). Changing what a type carries needs a new ``version`` — a unit test
compares every type with the committed shapes (tests/unit/event_wire_shapes.json) and
docs/events.md with this table.

Events stored before a field existed simply lack it; consumers treat a missing field as
absent (documented per type in docs/events.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from domain.conversation import Conversation
from domain.directory import Case, Contact, Firm, NumberClaim, StaffUser


@dataclass(frozen=True)
class EventContract:
    """One published event type. ``versions`` maps each schema version to the fields it
    carries (wire field -> attribute of the event object); each version adds fields.
    A stored event is published under the lowest version holding all its fields, so an
    event stored before a version existed keeps the exact bytes (and hash) it had."""

    wire_type: str  # e.g. "Conversation.InboundReceived"; never changes once published
    versions: Mapping[int, Mapping[str, str]]

    @property
    def version(self) -> int:
        """The version new events of this type are published under."""
        return max(self.versions)

    @property
    def fields(self) -> Mapping[str, str]:
        return self.versions[self.version]

    def wire_data(self, attributes: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """(schema version, the event's data under its wire names). Attributes the contract
        does not declare are refused, so nothing reaches the log unannounced."""
        present = set(attributes) - EVENTSOURCING_FIELDS
        for version in sorted(self.versions):
            fields = self.versions[version]
            if present <= set(fields.values()):
                return version, {wire: attributes[attr] for wire, attr in fields.items() if attr in attributes}
        raise UndeclaredField(f"{self.wire_type} carries undeclared {sorted(present - set(self.fields.values()))}; "
                              "declare them in domain/event_contract.py under a new version")


class UndeclaredField(ValueError):
    """An event carries a field its contract does not publish."""


# Bookkeeping every eventsourcing event has; the envelope carries it in its own fields.
EVENTSOURCING_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def _same(*names: str) -> dict[str, str]:
    return {n: n for n in names}


# Per type: (wire name, newest version, its fields). Older versions are listed in
# _EARLIER: each version's fields are a subset of the next one's.
_DECLARED: dict[type, tuple[str, int, dict[str, str]]] = {
    Conversation.Started: ("Conversation.Started", 1, _same("firm_id", "phone_hash", "phone_ct", "started_by")),
    Conversation.InboundReceived: ("Conversation.InboundReceived", 1, _same(
        "message_id", "carrier_sid", "body_ct", "media", "rejected_media", "keyword")),
    Conversation.OutboundRequested: ("Conversation.OutboundRequested", 2, _same(
        "message_id", "user_id", "body_ct", "participating")),
    Conversation.MessageDispatched: ("Conversation.MessageDispatched", 1, _same(
        "message_id", "carrier_sid", "carrier_status")),
    Conversation.MessageStatusChanged: ("Conversation.MessageStatusChanged", 1, _same(
        "message_id", "status", "error_code")),
    Conversation.OptedOut: ("Conversation.OptedOut", 1, _same("source", "keyword", "message_id")),
    Conversation.OptedIn: ("Conversation.OptedIn", 1, _same("source", "keyword", "message_id")),
    Conversation.HelpRequested: ("Conversation.HelpRequested", 1, _same("message_id", "answered")),
    Conversation.Muted: ("Conversation.Muted", 1, _same("user_id")),
    Conversation.Unmuted: ("Conversation.Unmuted", 1, _same("user_id")),
    Conversation.Left: ("Conversation.Left", 1, _same("user_id")),
    Conversation.MarkedRead: ("Conversation.MarkedRead", 1, _same("user_id", "inbound_count")),
    Conversation.Archived: ("Conversation.Archived", 1, _same("user_id")),
    Conversation.Blocked: ("Conversation.Blocked", 1, _same("user_id")),
    Conversation.BlockedTextDropped: ("Conversation.BlockedTextDropped", 1, _same("carrier_sid")),
    Firm.Registered: ("Firm.Registered", 1, _same("firm_id", "name", "number", "time_zone", "help_text")),
    Firm.Updated: ("Firm.Updated", 1, _same("name", "number", "time_zone", "help_text")),
    NumberClaim.Claimed: ("NumberClaim.Claimed", 1, _same("number", "firm_id")),
    NumberClaim.Reassigned: ("NumberClaim.Reassigned", 1, _same("firm_id")),
    StaffUser.Synced: ("StaffUser.Synced", 1, _same(
        "firm_id", "user_id", "name", "email", "permissions", "notify_email", "notify_desktop")),
    StaffUser.Updated: ("StaffUser.Updated", 1, _same("name", "email", "permissions", "notify_email",
                                                      "notify_desktop")),
    StaffUser.NotificationsSeen: ("StaffUser.NotificationsSeen", 1, _same("up_to")),
    Contact.Synced: ("Contact.Synced", 1, _same("firm_id", "contact_id", "name", "kind", "phone_hashes",
                                                "phones_ct")),
    Contact.Updated: ("Contact.Updated", 1, _same("name", "kind", "phone_hashes", "phones_ct", "contact_id")),
    Contact.Deleted: ("Contact.Deleted", 1, {}),
    Case.Synced: ("Case.Synced", 1, _same("firm_id", "case_id", "name", "contact_ids")),
    Case.Updated: ("Case.Updated", 1, _same("name", "contact_ids", "case_id")),
    Case.Deleted: ("Case.Deleted", 1, {}),
}

_EARLIER: dict[type, dict[int, dict[str, str]]] = {
    Conversation.OutboundRequested: {1: _same("message_id", "user_id", "body_ct")},
}


def _contract(cls: type, name: str, version: int, fields: dict[str, str]) -> EventContract:
    versions = {**_EARLIER.get(cls, {}), version: fields}
    return EventContract(name, MappingProxyType({v: MappingProxyType(f) for v, f in sorted(versions.items())}))


CONTRACTS: Mapping[type, EventContract] = MappingProxyType(
    {cls: _contract(cls, *declared) for cls, declared in _DECLARED.items()})
WIRE_TYPES: frozenset[str] = frozenset(c.wire_type for c in CONTRACTS.values())


class UnknownEvent(ValueError):
    """A domain event class with no published contract."""


def contract_of(domain_event: Any) -> EventContract:
    """The contract of ``domain_event``'s class, or :class:`UnknownEvent`."""
    try:
        return CONTRACTS[type(domain_event)]
    except KeyError:
        raise UnknownEvent(f"{type(domain_event).__qualname__} has no contract in domain/event_contract.py") from None
