"""The notifications read model, shaped for the API: a user's rows of the
notification-triggers projection with a decrypted preview of the text.

Sealed values are opened per request and never cached. ``seq`` (the event's
notification id) orders a user's rows: all of a firm's events share one Kafka
partition, so a user's rows are written in ``seq`` order and a ``seq`` works as a
cursor, as a Last-Event-ID and as the "seen up to" mark.
"""
from __future__ import annotations

from psycopg.rows import dict_row

from adapters.http.read_models import ReadModels
from domain.texting import conversation_scope

PREVIEW_CHARS = 200  # a bell or a desktop toast shows a line or two, not the whole text
CHANNELS = {"in_app": "n.in_app", "desktop": "n.desktop"}
_SELECT = ("SELECT n.id, n.seq, n.kind, n.conversation_id, n.message_id, n.created_at, m.body_ct, "
           "m.sender_user_id, c.phone_ct, c.phone_hash FROM pj_notifications.notifications n "
           "LEFT JOIN pj_messages.messages m ON m.message_id = n.message_id "
           "LEFT JOIN pj_inbox.conversations c ON c.conversation_id = n.conversation_id "
           "WHERE n.firm_id = %(firm)s AND n.user_id = %(user)s AND {channel} ")


class NotificationFeed:
    """Queries over ``pj_notifications`` for one API request."""

    def __init__(self, reads: ReadModels) -> None:
        self.reads = reads

    def _rows(self, query: str, params: tuple | dict) -> list[dict]:
        with self.reads.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()

    def seen_up_to(self, firm_id: str, user_id: str) -> int | None:
        """The user's "seen" mark, or None when the host platform never synced the user."""
        rows = self._rows("SELECT notifications_seen FROM pj_directory.users WHERE firm_id = %s "
                                "AND user_id = %s", (firm_id, user_id))
        return int(rows[0]["notifications_seen"]) if rows else None

    def newest(self, firm_id: str, user_id: str, channel: str) -> int:
        """The highest seq of the user's rows on ``channel`` (0 when there are none)."""
        rows = self._rows(f"SELECT max(seq) AS seq FROM pj_notifications.notifications n WHERE "
                                f"n.firm_id = %s AND n.user_id = %s AND {CHANNELS[channel]}", (firm_id, user_id))
        return int(rows[0]["seq"] or 0)

    def unseen_count(self, firm_id: str, user_id: str, seen: int) -> int:
        """In-app rows above the user's seen mark."""
        rows = self._rows("SELECT count(*) AS n FROM pj_notifications.notifications WHERE firm_id = %s "
                                "AND user_id = %s AND in_app AND seq > %s", (firm_id, user_id, seen))
        return int(rows[0]["n"])

    def page(self, firm_id: str, user_id: str, unseen_only: bool, limit: int,
             before: int | None) -> tuple[list[dict], bool, int]:
        """(in-app items newest first, more after this page?, unseen count)."""
        seen = self.seen_up_to(firm_id, user_id) or 0
        query = (_SELECT.format(channel=CHANNELS["in_app"])
                 + ("AND n.seq > %(seen)s " if unseen_only else "")
                 + ("AND n.seq < %(before)s " if before is not None else "")
                 + "ORDER BY n.seq DESC LIMIT %(limit)s")
        rows = self._rows(query, {"firm": firm_id, "user": user_id, "seen": seen, "before": before,
                                        "limit": limit + 1})
        return self.items(firm_id, rows[:limit], seen), len(rows) > limit, self.unseen_count(firm_id, user_id, seen)

    def desktop_after(self, firm_id: str, user_id: str, after: int, limit: int) -> list[dict]:
        """Desktop items with seq above ``after``, oldest first (the order a stream sends them)."""
        query = _SELECT.format(channel=CHANNELS["desktop"]) + "AND n.seq > %(after)s ORDER BY n.seq LIMIT %(limit)s"
        rows = self._rows(query, {"firm": firm_id, "user": user_id, "after": after, "limit": limit})
        return self.items(firm_id, rows, self.seen_up_to(firm_id, user_id) or 0) if rows else []

    def items(self, firm_id: str, rows: list[dict], seen: int) -> list[dict]:
        """API items for projection rows: ``seen`` against the mark, and a preview."""
        links = self.reads.links(firm_id, sorted({r["phone_hash"] for r in rows if r["phone_hash"]}))
        return [{"id": r["id"], "seq": r["seq"], "kind": r["kind"], "conversation_id": r["conversation_id"],
                 "message_id": r["message_id"], "sender_user_id": r["sender_user_id"],
                 "created_at": r["created_at"].isoformat(), "seen": r["seq"] <= seen,
                 "preview": self._preview(r, links)} for r in rows]

    def _preview(self, row: dict, links: dict) -> dict | None:
        scope = conversation_scope(row["conversation_id"])
        phone = self.reads.sealer.open(scope, row["phone_ct"]) if row["phone_ct"] else None
        if phone is None:
            # Blocked (key shredded) and not yet removed by the projection: nothing to show.
            return None
        body = self.reads.sealer.open(scope, row["body_ct"]) if row["body_ct"] else None
        if body is not None and len(body) > PREVIEW_CHARS:
            body = body[:PREVIEW_CHARS - 1] + "…"
        names = [c["name"] for c in links.get(row["phone_hash"], {}).get("contacts", [])]
        return {"phone": phone, "contacts": names, "body": body}
