"""Case-links projection: which contacts hold which phone numbers, and which cases they
are linked to. A conversation's links are then a join on its phone hash, so they follow
every contact and case change live (see queries in adapters/http/read_models.py)."""
from __future__ import annotations

from projections.base import Projection
from projections.store import RowStore, Table
from domain.envelope import Event

CONTACTS = Table("contacts", ("stream_id",), ("stream_id", "firm_id", "contact_id", "name", "kind",
                                              "phone_hashes", "phones_ct"),
                 json=frozenset({"phone_hashes", "phones_ct"}))
CONTACT_PHONES = Table("contact_phones", ("firm_id", "phone_hash", "contact_id"),
                       ("firm_id", "phone_hash", "contact_id"))
CASES = Table("cases", ("stream_id",), ("stream_id", "firm_id", "case_id", "name", "contact_ids"),
              json=frozenset({"contact_ids"}))
CASE_CONTACTS = Table("case_contacts", ("firm_id", "case_id", "contact_id"), ("firm_id", "case_id", "contact_id"))

DDL = """
CREATE TABLE {schema}.contacts (stream_id text PRIMARY KEY, firm_id text NOT NULL, contact_id text NOT NULL,
    name text NOT NULL, kind text NOT NULL, phone_hashes jsonb NOT NULL, phones_ct jsonb NOT NULL);
CREATE UNIQUE INDEX ON {schema}.contacts (firm_id, contact_id);
CREATE TABLE {schema}.contact_phones (firm_id text, phone_hash text, contact_id text,
    PRIMARY KEY (firm_id, phone_hash, contact_id));
CREATE INDEX ON {schema}.contact_phones (firm_id, contact_id);
CREATE TABLE {schema}.cases (stream_id text PRIMARY KEY, firm_id text NOT NULL, case_id text NOT NULL,
    name text NOT NULL, contact_ids jsonb NOT NULL);
CREATE UNIQUE INDEX ON {schema}.cases (firm_id, case_id);
CREATE TABLE {schema}.case_contacts (firm_id text, case_id text, contact_id text,
    PRIMARY KEY (firm_id, case_id, contact_id));
CREATE INDEX ON {schema}.case_contacts (firm_id, contact_id);
"""


def on_contact(store: RowStore, event: Event) -> None:
    old = store.get(CONTACTS, (event.stream_id,))
    contact_id = event.data.get("contact_id") or (old or {}).get("contact_id")
    for h in (old or {}).get("phone_hashes", []):
        store.delete(CONTACT_PHONES, (event.firm_id, h, contact_id))
    if event.type == "Contact.Deleted":
        store.delete(CONTACTS, (event.stream_id,))
        return
    d = event.data
    store.put(CONTACTS, {"stream_id": event.stream_id, "firm_id": event.firm_id, "contact_id": contact_id,
                         "name": d["name"], "kind": d["kind"], "phone_hashes": d["phone_hashes"],
                         "phones_ct": d["phones_ct"]})
    for h in d["phone_hashes"]:
        store.put(CONTACT_PHONES, {"firm_id": event.firm_id, "phone_hash": h, "contact_id": contact_id})


def on_case(store: RowStore, event: Event) -> None:
    old = store.get(CASES, (event.stream_id,))
    case_id = event.data.get("case_id") or (old or {}).get("case_id")
    for c in (old or {}).get("contact_ids", []):
        store.delete(CASE_CONTACTS, (event.firm_id, case_id, c))
    if event.type == "Case.Deleted":
        store.delete(CASES, (event.stream_id,))
        return
    d = event.data
    store.put(CASES, {"stream_id": event.stream_id, "firm_id": event.firm_id, "case_id": case_id,
                      "name": d["name"], "contact_ids": d["contact_ids"]})
    for c in d["contact_ids"]:
        store.put(CASE_CONTACTS, {"firm_id": event.firm_id, "case_id": case_id, "contact_id": c})


LINKS = Projection(
    name="links", tables=(CONTACTS, CONTACT_PHONES, CASES, CASE_CONTACTS), ddl=DDL,
    handlers={"Contact.Synced": on_contact, "Contact.Updated": on_contact, "Contact.Deleted": on_contact,
              "Case.Synced": on_case, "Case.Updated": on_case, "Case.Deleted": on_case})
