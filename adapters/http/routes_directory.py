"""Host-platform sync (permission ``admin``) and the directory reads staff need."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.auth import Caller
from adapters.http.deps import admin, container, texting_user
from adapters.http.paging import clamp_limit, decode_cursor, encode_cursor
from adapters.phone import to_e164
from domain.errors import NotFound
from firmtext.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["directory"])
Preference = Literal["none", "clients", "firm", "both"]
Id = Field(min_length=1, max_length=200)


class FirmIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=200)
    number: str
    time_zone: str = "UTC"
    help_text: str | None = Field(default=None, max_length=1600)

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        return to_e164(v)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo
        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError("time_zone must be an IANA zone such as America/New_York") from None
        return v


class Notify(BaseModel):
    email: Preference = "none"
    desktop: Preference = "none"


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    permissions: list[str] = []
    # Left out: keep what the user chose in "My Notifications" (PUT /v1/me); none for a new user.
    notify: Notify | None = None


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["client", "lead"]
    phones: list[str] = Field(default=[], max_length=20)

    @field_validator("phones")
    @classmethod
    def _phones(cls, v: list[str]) -> list[str]:
        return [to_e164(p) for p in v]


class CaseIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    contact_ids: list[str] = Field(default=[], max_length=500)


def _firm_view(firm) -> dict:
    return {"name": firm.name, "number": firm.number, "time_zone": firm.time_zone, "help_text": firm.help_text}


@router.put("/firm")
def put_firm(body: FirmIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    return _firm_view(c.texting.configure_firm(who.firm_id, body.name, body.number, body.time_zone, body.help_text))


@router.get("/firm")
def get_firm(who: Caller = Depends(texting_user), c: Container = Depends(container)):
    firm = c.texting.firm(who.firm_id)
    if firm is None:
        raise NotFound("This firm has not been set up for texting yet.")
    return _firm_view(firm)


@router.put("/users/{user_id}")
def put_user(user_id: str, body: UserIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    notify = body.notify
    if notify is None:
        known = c.texting.staff_user(who.firm_id, user_id)
        notify = Notify(email=known.notify_email, desktop=known.notify_desktop) if known else Notify()
    user = c.texting.sync_user(who.firm_id, user_id, body.name, body.email, body.permissions,
                               notify.email, notify.desktop)
    return {"id": user.user_id, "name": user.name, "email": user.email, "permissions": user.permissions,
            "notify": {"email": user.notify_email, "desktop": user.notify_desktop}}


@router.put("/contacts/{contact_id}")
def put_contact(contact_id: str, body: ContactIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.sync_contact(who.firm_id, contact_id, body.name, body.kind, body.phones)
    return {"id": contact_id, "name": body.name, "kind": body.kind, "phones": body.phones}


@router.delete("/contacts/{contact_id}", status_code=204)
def delete_contact(contact_id: str, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.delete_contact(who.firm_id, contact_id)


@router.put("/cases/{case_id}")
def put_case(case_id: str, body: CaseIn, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.sync_case(who.firm_id, case_id, body.name, body.contact_ids)
    return {"id": case_id, "name": body.name, "contact_ids": list(dict.fromkeys(body.contact_ids))}


@router.delete("/cases/{case_id}", status_code=204)
def delete_case(case_id: str, who: Caller = Depends(admin), c: Container = Depends(container)):
    c.texting.delete_case(who.firm_id, case_id)


@router.get("/contacts")
def search_contacts(q: str = "", limit: int | None = Query(None), cursor: str | None = None,
                    who: Caller = Depends(texting_user), c: Container = Depends(container)):
    """The compose box: contacts whose name contains ``q`` or whose number contains its digits."""
    found, more = c.reads.search_contacts(who.firm_id, q, clamp_limit(limit), decode_cursor(cursor, 2))
    return {"contacts": found,
            "next_cursor": encode_cursor(found[-1]["name"], found[-1]["id"]) if more and found else None}


@router.get("/contacts/{contact_id}/conversations")
def contact_conversations(contact_id: str, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    hashes = c.reads.contact_phone_hashes(who.firm_id, contact_id)
    if hashes is None:
        raise NotFound("No such contact.")
    return {"conversations": c.reads.conversations_for_phones(who.firm_id, hashes, who.user_id), "next_cursor": None}


@router.get("/cases/{case_id}/conversations")
def case_conversations(case_id: str, who: Caller = Depends(texting_user), c: Container = Depends(container)):
    hashes = c.reads.case_phone_hashes(who.firm_id, case_id)
    if hashes is None:
        raise NotFound("No such case.")
    return {"conversations": c.reads.conversations_for_phones(who.firm_id, hashes, who.user_id), "next_cursor": None}
