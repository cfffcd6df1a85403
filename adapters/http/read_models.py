"""Queries over the projections, shaped for the API. Sealed values are opened here,
per request, and never cached."""
from __future__ import annotations

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from adapters.http.contact_search import ContactSearch
from adapters.search_index import SearchDigests
from adapters.sealer import AesGcmSealer
from domain.texting import conversation_scope


class ReadModels:
    def __init__(self, pool: ConnectionPool, sealer: AesGcmSealer) -> None:
        self.pool, self.sealer = pool, sealer
        self._contact_search = ContactSearch(pool, SearchDigests(sealer))

    def _rows(self, query: str, params: tuple | dict) -> list[dict]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()

    # -- links --------------------------------------------------------------------
    def links(self, firm_id: str, phone_hashes: list[str]) -> dict[str, dict]:
        """phone_hash -> {"contacts": [...], "cases": [...]} for the given numbers."""
        result = {h: {"contacts": [], "cases": []} for h in phone_hashes}
        if not phone_hashes:
            return result
        for row in self._rows(
                "SELECT p.phone_hash, c.contact_id, c.name, c.kind FROM pj_links.contact_phones p "
                "JOIN pj_links.contacts c ON c.firm_id = p.firm_id AND c.contact_id = p.contact_id "
                "WHERE p.firm_id = %s AND p.phone_hash = ANY(%s) ORDER BY c.name, c.contact_id",
                (firm_id, phone_hashes)):
            result[row["phone_hash"]]["contacts"].append(
                {"id": row["contact_id"], "name": row["name"], "kind": row["kind"]})
        for row in self._rows(
                "SELECT DISTINCT p.phone_hash, k.case_id, k.name FROM pj_links.contact_phones p "
                "JOIN pj_links.case_contacts cc ON cc.firm_id = p.firm_id AND cc.contact_id = p.contact_id "
                "JOIN pj_links.cases k ON k.firm_id = cc.firm_id AND k.case_id = cc.case_id "
                "WHERE p.firm_id = %s AND p.phone_hash = ANY(%s) ORDER BY k.name, k.case_id",
                (firm_id, phone_hashes)):
            result[row["phone_hash"]]["cases"].append({"id": row["case_id"], "name": row["name"]})
        return result

    # -- conversations ------------------------------------------------------------------
    def summarise(self, firm_id: str, rows: list[dict]) -> list[dict]:
        """Inbox-style summaries (phone, links, last message) for conversation rows."""
        links = self.links(firm_id, [r["phone_hash"] for r in rows])
        out = []
        for r in rows:
            scope = conversation_scope(r["conversation_id"])
            last = r.get("last_message")
            if last:
                last = {"id": last["id"], "direction": last["direction"],
                        "body": self.sealer.open(scope, last["body_ct"]), "media_count": last["media_count"],
                        "sender_user_id": last["sender_user_id"], "status": last["status"],
                        "created_at": last["created_at"]}
            out.append({"id": r["conversation_id"], "phone": self.sealer.open(scope, r["phone_ct"]),
                        **links[r["phone_hash"]], "last_message": last,
                        "unread": max(0, r["inbound_count"] - (r.get("read_count") or 0)),
                        "muted": bool(r.get("muted")), "archived": r["archived"], "opted_out": r["opted_out"],
                        "last_activity_at": r["last_activity_at"].isoformat()})
        return out

    def inbox(self, firm_id: str, user_id: str, unread_only: bool, limit: int, after: list | None):
        query = (
            "SELECT c.*, u.read_count, u.muted FROM pj_inbox.conversations c "
            "LEFT JOIN pj_inbox.user_state u ON u.conversation_id = c.conversation_id AND u.user_id = %(user)s "
            "WHERE c.firm_id = %(firm)s AND NOT c.archived AND NOT coalesce(u.\"left\", false) "
            + ("AND c.inbound_count > coalesce(u.read_count, 0) " if unread_only else "")
            + ("AND (c.last_activity_at, c.conversation_id) < (%(at)s::timestamptz, %(id)s) " if after else "")
            + "ORDER BY c.last_activity_at DESC, c.conversation_id DESC LIMIT %(limit)s")
        params = {"user": user_id, "firm": firm_id, "limit": limit + 1}
        if after:
            params.update(at=after[0], id=after[1])
        rows = self._rows(query, params)
        return self.summarise(firm_id, rows[:limit]), len(rows) > limit

    def conversations_for_phones(self, firm_id: str, phone_hashes: list[str], user_id: str) -> list[dict]:
        if not phone_hashes:
            return []
        rows = self._rows(
            "SELECT c.*, u.read_count, u.muted FROM pj_inbox.conversations c "
            "LEFT JOIN pj_inbox.user_state u ON u.conversation_id = c.conversation_id AND u.user_id = %s "
            "WHERE c.firm_id = %s AND c.phone_hash = ANY(%s) ORDER BY c.last_activity_at DESC",
            (user_id, firm_id, phone_hashes))
        return self.summarise(firm_id, rows)

    def contact_phone_hashes(self, firm_id: str, contact_id: str) -> list[str] | None:
        rows = self._rows("SELECT phone_hashes FROM pj_links.contacts WHERE firm_id = %s AND contact_id = %s",
                          (firm_id, contact_id))
        return rows[0]["phone_hashes"] if rows else None

    def case_phone_hashes(self, firm_id: str, case_id: str) -> list[str] | None:
        if not self._rows("SELECT 1 FROM pj_links.cases WHERE firm_id = %s AND case_id = %s", (firm_id, case_id)):
            return None
        return [r["phone_hash"] for r in self._rows(
            "SELECT DISTINCT p.phone_hash FROM pj_links.case_contacts cc JOIN pj_links.contact_phones p "
            "ON p.firm_id = cc.firm_id AND p.contact_id = cc.contact_id WHERE cc.firm_id = %s AND cc.case_id = %s",
            (firm_id, case_id))]

    # -- messages ------------------------------------------------------------------
    def messages(self, firm_id: str, conversation_id: str, before: int | None, limit: int | None):
        """Messages oldest-first; a page is the newest ``limit`` before ``before`` (a seq)."""
        query = ("SELECT * FROM pj_messages.messages WHERE firm_id = %s AND conversation_id = %s "
                 + ("AND seq < %s " if before is not None else "") + "ORDER BY seq DESC"
                 + (" LIMIT %s" if limit is not None else ""))
        params = [firm_id, conversation_id] + ([before] if before is not None else []) \
            + ([limit + 1] if limit is not None else [])
        rows = self._rows(query, tuple(params))
        more = limit is not None and len(rows) > limit
        rows = list(reversed(rows[:limit] if limit is not None else rows))
        scope = conversation_scope(conversation_id)
        return [self.message(scope, r) for r in rows], (rows[0]["seq"] if more and rows else None)

    def message(self, scope: str, r: dict) -> dict:
        return {"id": r["message_id"], "seq": r["seq"], "direction": r["direction"],
                "body": self.sealer.open(scope, r["body_ct"]),
                "media": [{"id": m["id"], "content_type": m["content_type"], "size": m["size"]}
                          for m in r["media"]],
                "rejected_media": r["rejected_media"], "sender_user_id": r["sender_user_id"],
                "status": r["status"], "error_code": r["error_code"], "created_at": r["created_at"].isoformat(),
                "updated_at": r["updated_at"].isoformat()}

    def consent_history(self, firm_id: str, conversation_id: str) -> list[dict]:
        """Every opt-out and opt-in of the conversation's number, oldest first."""
        return [{**h, "at": h["at"].isoformat()} for h in self._rows(
            "SELECT change, source, keyword, message_id, at FROM pj_inbox.consent_history "
            "WHERE firm_id = %s AND conversation_id = %s ORDER BY seq", (firm_id, conversation_id))]

    # -- directory ------------------------------------------------------------------
    def search_contacts(self, firm_id: str, q: str, limit: int, after: list | None):
        """The compose box: a page of contacts matching ``q`` (adapters/http/contact_search.py)."""
        return self._contact_search.search(firm_id, q, limit, after)

    def user_directory(self, firm_id: str) -> dict[str, dict]:
        return {r["user_id"]: r for r in self._rows(
            "SELECT user_id, name, email, permissions, notifications_seen FROM pj_directory.users "
            "WHERE firm_id = %s", (firm_id,))}
