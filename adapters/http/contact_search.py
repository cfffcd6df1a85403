"""The compose box's search (``GET /v1/contacts?q=``) over the search projection
(projections/search.py), decrypting only the page it returns.

What matches is what always matched: a contact whose name, lowered, contains ``q``
stripped and lowered, or, when ``q`` holds 3 digits or more, one of whose numbers
contains those digits in a row; an empty ``q`` lists everyone. Pages are in (name,
contact id) order, as PostgreSQL sorts them, after the cursor's (name, id).
"""
from __future__ import annotations

import re

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from adapters.search_index import MIN_QUERY_DIGITS, SearchDigests, digits_of, query_grams

COLUMNS = "contact_id, name, kind, phones_ct"
# No stored name holds these (PostgreSQL refuses them in text), nor can a query send them.
NOT_IN_ANY_NAME = re.compile("[\x00\ud800-\udfff]")
AFTER = "AND ({0}name, {0}contact_id) > (%(at_name)s, %(at_id)s) "


def like_escaped(text: str) -> str:
    """``text`` as a LIKE pattern matching itself only (the trigram index serves LIKE;
    ``strpos`` beside it keeps the match exact)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ContactSearch:
    def __init__(self, pool: ConnectionPool, digests: SearchDigests) -> None:
        self.pool, self.digests = pool, digests

    def _rows(self, query: str, params: dict) -> list[dict]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()

    def search(self, firm_id: str, q: str, limit: int, after: list | None) -> tuple[list[dict], bool]:
        """(the page of contacts, whether more follow)."""
        needle, digits = q.strip().lower(), digits_of(q)
        params = {"firm": firm_id, "k": limit + 1, "needle": needle, "pattern": "%" + like_escaped(needle) + "%",
                  **({"at_name": after[0], "at_id": after[1]} if after else {})}
        after_sql = AFTER.format("") if after else ""
        if not needle:
            rows = self._rows(f"SELECT {COLUMNS} FROM pj_search.contacts WHERE firm_id = %(firm)s {after_sql}"
                              "ORDER BY name, contact_id LIMIT %(k)s", params)
        else:
            unstorable = NOT_IN_ANY_NAME.search(needle) is not None
            params.update(names=not unstorable, **({"needle": "", "pattern": ""} if unstorable else {}))
            params["ids"] = self._by_digits(firm_id, digits, limit + 1, after) \
                if len(digits) >= MIN_QUERY_DIGITS else []
            # Both branches are bounded by the page (names: an index-only scan in page order);
            # the page is their union, sorted by PostgreSQL, in the one order cursors compare in.
            rows = self._rows(
                f"SELECT {COLUMNS} FROM pj_search.contacts WHERE firm_id = %(firm)s AND contact_id = ANY(ARRAY("
                "SELECT contact_id FROM pj_search.contacts WHERE firm_id = %(firm)s AND %(names)s "
                "AND name_folded LIKE %(pattern)s "
                f"AND strpos(name_folded, %(needle)s) > 0 {after_sql}ORDER BY name, contact_id LIMIT %(k)s) "
                "|| %(ids)s::text[]) ORDER BY name, contact_id LIMIT %(k)s", params)
        page = [{"id": r["contact_id"], "name": r["name"], "kind": r["kind"],
                 "phones": self.digests.open_phones(firm_id, r["phones_ct"])} for r in rows[:limit]]
        return page, len(rows) > limit

    def _by_digits(self, firm_id: str, digits: str, wanted: int, after: list | None) -> list[str]:
        """The first ``wanted`` contacts (after the cursor) one of whose numbers contains
        ``digits``: one digest's index range, checked on the opened numbers only when
        several grams had to be combined (they may each be there without the whole run)."""
        grams, exact = query_grams(digits)
        digests = self.digests.of_query(firm_id, grams)
        if not digests:
            return []
        # The last gram drives: a number's leading digits (country, area code) are the
        # ones most contacts share, its last ones the most telling.
        params = {"firm": firm_id, "gram": digests[-1], "others": digests[:-1], "k": wanted}
        if exact:  # an index-only range scan of one digest, in page order
            return [r["contact_id"] for r in self._rows(
                "SELECT contact_id FROM pj_search.grams g WHERE firm_id = %(firm)s AND gram = %(gram)s "
                + (AFTER.format("") if after else "") + "ORDER BY name, contact_id LIMIT %(k)s",
                {**params, **({"at_name": after[0], "at_id": after[1]} if after else {})})]
        found: list[str] = []
        while len(found) < wanted:
            if after:
                params.update(at_name=after[0], at_id=after[1])
            rows = self._rows(
                "SELECT g.contact_id, g.name, c.phones_ct FROM pj_search.grams g "
                "JOIN pj_search.contacts c ON c.firm_id = g.firm_id AND c.contact_id = g.contact_id "
                "WHERE g.firm_id = %(firm)s AND g.gram = %(gram)s AND c.grams @> to_jsonb(%(others)s::text[]) "
                + (AFTER.format("g.") if after else "") + "ORDER BY g.name, g.contact_id LIMIT %(k)s", params)
            found += [r["contact_id"] for r in rows if any(
                digits in digits_of(p) for p in self.digests.open_phones(firm_id, r["phones_ct"]))]
            if len(rows) < wanted:
                break
            after = [rows[-1]["name"], rows[-1]["contact_id"]]
        return found[:wanted]
