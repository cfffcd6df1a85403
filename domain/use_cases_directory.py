"""Host-platform sync: firm, staff, contacts and cases. Upserts; unchanged input records nothing.
Each use case takes the unit of work it decides in (domain/unit_of_work.py)."""
from __future__ import annotations

from uuid import UUID

from domain.directory import Case, Contact, Firm, NumberClaim, StaffUser
from domain.errors import NotFound, NumberTaken
from domain.ids import case_id_of, contact_id_of, number_claim_id, user_id_of
from domain.scopes import directory_scope
from domain.unit_of_work import UnitOfWork

DEFAULT_HELP = "Reply STOP to stop texts from {name}. Msg&data rates may apply."


def configure_firm(uow: UnitOfWork, firm_id: str, name: str, number: str, time_zone: str = "UTC",
                   help_text: str | None = None) -> Firm:
    claim = uow.get(number_claim_id(number))
    if claim is not None and claim.firm_id not in (None, firm_id):
        raise NumberTaken("That texting number belongs to another firm.")
    firm = uow.firm(firm_id)
    text = help_text if help_text is not None else (firm.help_text if firm else DEFAULT_HELP.format(name=name))
    changed = []
    if firm is None:
        firm = Firm(firm_id=firm_id, name=name, number=number, time_zone=time_zone, help_text=text)
        changed.append(firm)
    elif (firm.name, firm.number, firm.time_zone, firm.help_text) != (name, number, time_zone, text):
        old_number = firm.number
        firm.update(name=name, number=number, time_zone=time_zone, help_text=text)
        changed.append(firm)
        if old_number != number:
            old = uow.get(number_claim_id(old_number))
            if old is not None and old.firm_id == firm_id:
                old.reassign(firm_id=None)
                changed.append(old)
    if claim is None:
        changed.append(NumberClaim(number=number, firm_id=firm_id))
    elif claim.firm_id is None:
        claim.reassign(firm_id=firm_id)
        changed.append(claim)
    if changed:
        uow.save(*changed)
    return firm


def firm_for_number(uow: UnitOfWork, number: str) -> str | None:
    claim = uow.get(number_claim_id(number))
    return claim.firm_id if claim else None


def sync_user(uow: UnitOfWork, firm_id: str, user_id: str, name: str, email: str | None,
              permissions: list[str], notify_email: str, notify_desktop: str) -> StaffUser:
    user = uow.get(user_id_of(firm_id, user_id))
    values = dict(name=name, email=email, permissions=sorted(set(permissions)),
                  notify_email=notify_email, notify_desktop=notify_desktop)
    if user is None:
        user = StaffUser(firm_id=firm_id, user_id=user_id, **values)
    elif (user.name, user.email, user.permissions, user.notify_email, user.notify_desktop,
          user.removed) == (*values.values(), False):
        return user
    else:
        user.update(**values)
    uow.save(user)
    return user


def choose_notifications(uow: UnitOfWork, firm_id: str, user_id: str, notify_email: str,
                         notify_desktop: str) -> StaffUser:
    """A user's own "My Notifications" choice; everything the host platform synced stays."""
    user = uow.get(user_id_of(firm_id, user_id))
    if user is None or user.removed:
        raise NotFound("Your user has not been set up for texting by the firm's platform yet.")
    if (user.notify_email, user.notify_desktop) != (notify_email, notify_desktop):
        user.update(name=user.name, email=user.email, permissions=user.permissions,
                    notify_email=notify_email, notify_desktop=notify_desktop)
        uow.save(user)
    return user


def staff_user(uow: UnitOfWork, firm_id: str, user_id: str) -> StaffUser | None:
    """The firm's synced user, or None (never synced, or removed)."""
    user = uow.get(user_id_of(firm_id, user_id))
    return None if user is None or user.removed else user


def see_notifications(uow: UnitOfWork, firm_id: str, user_id: str, up_to: int) -> None:
    user = uow.get(user_id_of(firm_id, user_id))
    if user is None:
        raise NotFound("No such user.")
    user.see_notifications(up_to=up_to)
    uow.save(user)


def sync_contact(uow: UnitOfWork, firm_id: str, contact_id: str, name: str, kind: str,
                 phones: list[str]) -> Contact:
    scope = directory_scope(firm_id)
    phones = list(dict.fromkeys(phones))
    hashes = [uow.phone_hash(firm_id, p) for p in phones]
    contact = uow.get(contact_id_of(firm_id, contact_id))
    if contact is not None and not contact.deleted and (contact.name, contact.kind,
                                                         contact.phone_hashes) == (name, kind, hashes):
        return contact
    sealed = [uow.seal(scope, p) for p in phones]
    if contact is None:
        contact = Contact(firm_id=firm_id, contact_id=contact_id, name=name, kind=kind,
                          phone_hashes=hashes, phones_ct=sealed)
    else:
        contact.update(name=name, kind=kind, phone_hashes=hashes, phones_ct=sealed, contact_id=contact_id)
    uow.save(contact)
    return contact


def delete_contact(uow: UnitOfWork, firm_id: str, contact_id: str) -> None:
    _delete(uow, contact_id_of(firm_id, contact_id), "No such contact.")


def sync_case(uow: UnitOfWork, firm_id: str, case_id: str, name: str, contact_ids: list[str]) -> Case:
    contact_ids = list(dict.fromkeys(contact_ids))
    case = uow.get(case_id_of(firm_id, case_id))
    if case is None:
        case = Case(firm_id=firm_id, case_id=case_id, name=name, contact_ids=contact_ids)
    elif not case.deleted and (case.name, case.contact_ids) == (name, contact_ids):
        return case
    else:
        case.update(name=name, contact_ids=contact_ids, case_id=case_id)
    uow.save(case)
    return case


def delete_case(uow: UnitOfWork, firm_id: str, case_id: str) -> None:
    _delete(uow, case_id_of(firm_id, case_id), "No such case.")


def _delete(uow: UnitOfWork, aggregate_id: UUID, missing: str) -> None:
    agg = uow.get(aggregate_id)
    if agg is None or agg.deleted:
        raise NotFound(missing)
    agg.delete()
    uow.save(agg)
