"""Host-platform sync (permission ``admin``) and the directory reads staff need."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from adapters.auth import Caller
from adapters.http.deps import admin, container, texting_user
from adapters.http.fields import CaseName, Email, HelpText, Id, Ids, Name, Phone, TimeZone
from adapters.http.openapi import refusals
from adapters.http.paging import Cursors, clamp_limit
from domain.errors import NotFound

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["directory"])
Preference = Literal["none", "clients", "firm", "both"]


class FirmIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Name
    number: Phone
    time_zone: TimeZone = "UTC"
    help_text: HelpText | None = None


class Notify(BaseModel):
    email: Preference = "none"
    desktop: Preference = "none"


class UserIn(BaseModel):
    name: Name
    email: Email | None = None
    permissions: list[Id] = Field(default=[], max_length=20)
    # Left out: keep what the user chose in "My Notifications" (PUT /v1/me); none for a new user.
    notify: Notify | None = None


class ContactIn(BaseModel):
    name: Name
    kind: Literal["client", "lead"]
    phones: list[Phone] = Field(default=[], max_length=20)


class CaseIn(BaseModel):
    name: CaseName
    contact_ids: Ids = []


def _firm_view(firm) -> dict:
    return {"name": firm.name, "number": firm.number, "time_zone": firm.time_zone, "help_text": firm.help_text}


@router.put("/firm", responses=refusals(409))
def put_firm(body: FirmIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    return _firm_view(c.texting.configure_firm(who.firm_id, body.name, body.number, body.time_zone, body.help_text))


@router.get("/firm", responses=refusals(404))
def get_firm(who: Caller = Depends(texting_user), c: Container = Depends(container)):
    firm = c.texting.firm(who.firm_id)
    if firm is None:
        raise NotFound("This firm has not been set up for texting yet.")
    return _firm_view(firm)


@router.put("/users/{user_id}")
def put_user(user_id: Id, body: UserIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    notify = body.notify
    if notify is None:
        known = c.texting.staff_user(who.firm_id, user_id)
        notify = Notify(email=known.notify_email, desktop=known.notify_desktop) if known else Notify()
    user = c.texting.sync_user(who.firm_id, user_id, body.name, body.email, body.permissions,
                               notify.email, notify.desktop)
    return {"id": user.user_id, "name": user.name, "email": user.email, "permissions": user.permissions,
            "notify": {"email": user.notify_email, "desktop": user.notify_desktop}}


@router.put("/contacts/{contact_id}")
def put_contact(contact_id: Id, body: ContactIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.sync_contact(who.firm_id, contact_id, body.name, body.kind, body.phones)
    return {"id": contact_id, "name": body.name, "kind": body.kind, "phones": body.phones}


@router.delete("/contacts/{contact_id}", status_code=204, responses=refusals(404))
def delete_contact(contact_id: Id, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.delete_contact(who.firm_id, contact_id)


@router.put("/cases/{case_id}")
def put_case(case_id: Id, body: CaseIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.sync_case(who.firm_id, case_id, body.name, body.contact_ids)
    return {"id": case_id, "name": body.name, "contact_ids": list(dict.fromkeys(body.contact_ids))}


@router.delete("/cases/{case_id}", status_code=204, responses=refusals(404))
def delete_case(case_id: Id, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.delete_case(who.firm_id, case_id)


@router.get("/contacts")
def search_contacts(q: str = Query("", max_length=200), limit: int | None = Query(None), cursor: str | None = None,
                    who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """The compose box: contacts whose name contains ``q`` or whose number contains its digits."""
    cursors = Cursors(c.settings.jwt_secret, who.firm_id, "contacts")
    found, more = c.reads.search_contacts(who.firm_id, q, clamp_limit(limit), cursors.read(cursor, str, str))
    return {"contacts": found,
            "next_cursor": cursors.issue(found[-1]["name"], found[-1]["id"]) if more and found else None}


@router.get("/contacts/{contact_id}/conversations", responses=refusals(404))
def contact_conversations(contact_id: Id, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    hashes = c.reads.contact_phone_hashes(who.firm_id, contact_id)
    if hashes is None:
        raise NotFound("No such contact.")
    return {"conversations": c.reads.conversations_for_phones(who.firm_id, hashes, who.user_id), "next_cursor": None}


@router.get("/cases/{case_id}/conversations", responses=refusals(404))
def case_conversations(case_id: Id, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    hashes = c.reads.case_phone_hashes(who.firm_id, case_id)
    if hashes is None:
        raise NotFound("No such case.")
    return {"conversations": c.reads.conversations_for_phones(who.firm_id, hashes, who.user_id), "next_cursor": None}
