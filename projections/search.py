"""Contact search projection: what the compose box searches (``GET /v1/contacts?q=``),
shaped so a search never decrypts the firm.

``contacts`` holds each contact's name as the search folds it (``str.lower``, exactly as
the search always compared), its kind and sealed numbers (opened only for the page a
search returns), and its gram digests; ``grams`` has a row per (digest, contact), ordered
by the contact's name, so a search by digits reads one index range in the page's order.
The digests come from adapters/search_index.py under a key derived from the firm's
directory key, which is why this projection is *keyed*: its writer is handed the digester
(the worker's and the rebuild's are), and it is rebuilt identically because an HMAC under
the same key is deterministic. Deleting a contact deletes its rows; the digests are never
in an event, so the immutable log holds none of them.
"""
from __future__ import annotations

from adapters.search_index import SearchDigests
from projections.base import Projection
from projections.store import RowStore, Table
from domain.envelope import Event

CONTACTS = Table("contacts", ("stream_id",), ("stream_id", "firm_id", "contact_id", "name", "name_folded", "kind",
                                              "phones_ct", "grams"), json=frozenset({"phones_ct", "grams"}))
GRAMS = Table("grams", ("firm_id", "gram", "name", "contact_id"), ("firm_id", "gram", "name", "contact_id"))

# pg_trgm and btree_gin (PostgreSQL's contrib, trusted extensions) index the names per firm,
# so a name nothing matches costs an index probe, not a scan of the firm's names.
DDL = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE TABLE {schema}.contacts (stream_id text PRIMARY KEY, firm_id text NOT NULL, contact_id text NOT NULL,
    name text NOT NULL, name_folded text NOT NULL, kind text NOT NULL, phones_ct jsonb NOT NULL,
    grams jsonb NOT NULL);
CREATE UNIQUE INDEX ON {schema}.contacts (firm_id, contact_id);
CREATE INDEX ON {schema}.contacts (firm_id, name, contact_id) INCLUDE (name_folded);
CREATE INDEX ON {schema}.contacts USING gin (firm_id, name_folded gin_trgm_ops);
CREATE TABLE {schema}.grams (firm_id text, gram text, name text, contact_id text,
    PRIMARY KEY (firm_id, gram, name, contact_id));
"""


def on_contact(store: RowStore, event: Event, digests: SearchDigests) -> None:
    old = store.get(CONTACTS, (event.stream_id,))
    contact_id = event.data.get("contact_id") or (old or {}).get("contact_id")
    for gram in (old or {}).get("grams", []):
        store.delete(GRAMS, (event.firm_id, gram, old["name"], contact_id))
    if event.type == "Contact.Deleted":
        store.delete(CONTACTS, (event.stream_id,))
        return
    d = event.data
    grams = digests.of_contact(event.firm_id, d["phones_ct"])
    store.put(CONTACTS, {"stream_id": event.stream_id, "firm_id": event.firm_id, "contact_id": contact_id,
                         "name": d["name"], "name_folded": d["name"].lower(), "kind": d["kind"],
                         "phones_ct": d["phones_ct"], "grams": grams})
    for gram in grams:
        store.put(GRAMS, {"firm_id": event.firm_id, "gram": gram, "name": d["name"], "contact_id": contact_id})


SEARCH = Projection(
    name="search", tables=(CONTACTS, GRAMS), ddl=DDL, keyed=True,
    handlers={"Contact.Synced": on_contact, "Contact.Updated": on_contact, "Contact.Deleted": on_contact})
