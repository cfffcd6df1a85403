"""What the host platform syncs into firmtext: the firm, its staff, contacts and cases.

Each is an aggregate so every change is an event on the log (auditors see who was
linked to what, and when), and so projections can be rebuilt from the log alone.
"""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.ids import case_id_of, contact_id_of, firm_id_of, number_claim_id, user_id_of


class Firm(Aggregate):
    @staticmethod
    def create_id(firm_id: str, **_: Any):
        return firm_id_of(firm_id)

    @event("Registered")
    def __init__(self, firm_id: str, name: str, number: str, time_zone: str, help_text: str) -> None:
        self.firm_id, self.name, self.number = firm_id, name, number
        self.time_zone, self.help_text = time_zone, help_text

    @event("Updated")
    def update(self, name: str, number: str, time_zone: str, help_text: str) -> None:
        self.name, self.number, self.time_zone, self.help_text = name, number, time_zone, help_text


class NumberClaim(Aggregate):
    """Reserves a texting number for one firm, so inbound texts find their firm."""

    @staticmethod
    def create_id(number: str, **_: Any):
        return number_claim_id(number)

    @event("Claimed")
    def __init__(self, number: str, firm_id: str) -> None:
        self.number, self.firm_id = number, firm_id

    @event("Reassigned")
    def reassign(self, firm_id: str | None) -> None:
        self.firm_id = firm_id


class StaffUser(Aggregate):
    @staticmethod
    def create_id(firm_id: str, user_id: str, **_: Any):
        return user_id_of(firm_id, user_id)

    @event("Synced")
    def __init__(self, firm_id: str, user_id: str, name: str, email: str | None,
                 permissions: list[str], notify_email: str, notify_desktop: str) -> None:
        self.firm_id, self.user_id = firm_id, user_id
        self._apply(name, email, permissions, notify_email, notify_desktop)
        self.removed = False

    @event("Updated")
    def update(self, name: str, email: str | None, permissions: list[str],
               notify_email: str, notify_desktop: str) -> None:
        self._apply(name, email, permissions, notify_email, notify_desktop)
        self.removed = False

    def _apply(self, name, email, permissions, notify_email, notify_desktop) -> None:
        self.name, self.email, self.permissions = name, email, list(permissions)
        self.notify_email, self.notify_desktop = notify_email, notify_desktop

    @event("NotificationsSeen")
    def see_notifications(self, up_to: int) -> None:
        pass


class Contact(Aggregate):
    """A client or lead; phones are sealed under the firm's directory key."""

    @staticmethod
    def create_id(firm_id: str, contact_id: str, **_: Any):
        return contact_id_of(firm_id, contact_id)

    @event("Synced")
    def __init__(self, firm_id: str, contact_id: str, name: str, kind: str,
                 phone_hashes: list[str], phones_ct: list[str]) -> None:
        self.firm_id, self.contact_id = firm_id, contact_id
        self.name, self.kind = name, kind
        self.phone_hashes, self.phones_ct = list(phone_hashes), list(phones_ct)
        self.deleted = False

    @event("Updated")
    def update(self, name: str, kind: str, phone_hashes: list[str], phones_ct: list[str],
               contact_id: str | None = None) -> None:
        # contact_id rides along so a projection that dropped a deleted contact's row can
        # re-create it when the contact is synced again (None only in events stored before).
        self.name, self.kind = name, kind
        self.phone_hashes, self.phones_ct = list(phone_hashes), list(phones_ct)
        self.deleted = False

    @event("Deleted")
    def delete(self) -> None:
        self.deleted = True
        self.phone_hashes, self.phones_ct = [], []


class Case(Aggregate):
    @staticmethod
    def create_id(firm_id: str, case_id: str, **_: Any):
        return case_id_of(firm_id, case_id)

    @event("Synced")
    def __init__(self, firm_id: str, case_id: str, name: str, contact_ids: list[str]) -> None:
        self.firm_id, self.case_id = firm_id, case_id
        self.name, self.contact_ids = name, list(contact_ids)
        self.deleted = False

    @event("Updated")
    def update(self, name: str, contact_ids: list[str], case_id: str | None = None) -> None:
        # case_id rides along for the same reason as Contact.update's contact_id.
        self.name, self.contact_ids = name, list(contact_ids)
        self.deleted = False

    @event("Deleted")
    def delete(self) -> None:
        self.deleted = True
        self.contact_ids = []
