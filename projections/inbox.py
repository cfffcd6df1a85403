"""Inbox projection: one row per conversation (last activity, counts, archived, opted
out) and one per (conversation, user) that acted in it (participant, muted, left, read).

A user's inbox = the firm's conversations that are not archived and that the user has
not left; unread = inbound messages the user has not marked read. Rules: docs/inbox.md.
"""
from __future__ import annotations

from domain.conversation import sender_participates
from domain.statuses import moves_forward
from projections.base import Projection
from projections.store import RowStore, Table
from domain.envelope import Event

CONVERSATIONS = Table(
    "conversations", ("conversation_id",),
    ("conversation_id", "firm_id", "phone_hash", "phone_ct", "started_by", "created_at", "last_activity_at",
     "last_message", "inbound_count", "message_count", "archived", "opted_out"),
    json=frozenset({"last_message"}), timestamps=frozenset({"created_at", "last_activity_at"}))
USER_STATE = Table("user_state", ("conversation_id", "user_id"),
                   ("conversation_id", "user_id", "firm_id", "participant", "muted", "left", "read_count"))
CONSENT = Table("consent_history", ("conversation_id", "seq"),
                ("conversation_id", "seq", "firm_id", "change", "source", "keyword", "message_id", "at"),
                timestamps=frozenset({"at"}))

DDL = """
CREATE TABLE {schema}.conversations (conversation_id text PRIMARY KEY, firm_id text NOT NULL,
    phone_hash text NOT NULL, phone_ct text NOT NULL, started_by text, created_at timestamptz NOT NULL,
    last_activity_at timestamptz NOT NULL, last_message jsonb, inbound_count int NOT NULL,
    message_count int NOT NULL, archived boolean NOT NULL, opted_out boolean NOT NULL);
CREATE INDEX ON {schema}.conversations (firm_id, last_activity_at DESC, conversation_id DESC);
CREATE INDEX ON {schema}.conversations (firm_id, phone_hash);
CREATE TABLE {schema}.user_state (conversation_id text, user_id text, firm_id text NOT NULL,
    participant boolean NOT NULL, muted boolean NOT NULL, "left" boolean NOT NULL, read_count int NOT NULL,
    PRIMARY KEY (conversation_id, user_id));
CREATE INDEX ON {schema}.user_state (firm_id, user_id);
CREATE TABLE {schema}.consent_history (conversation_id text, seq bigint, firm_id text NOT NULL,
    change text NOT NULL, source text NOT NULL, keyword text, message_id text, at timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq));
"""


def _user(store: RowStore, event: Event, user_id: str) -> dict:
    return store.get(USER_STATE, (event.stream_id, user_id)) or {
        "conversation_id": event.stream_id, "user_id": user_id, "firm_id": event.firm_id,
        "participant": False, "muted": False, "left": False, "read_count": 0}


def on_started(store: RowStore, event: Event) -> None:
    d = event.data
    store.put(CONVERSATIONS, {
        "conversation_id": event.stream_id, "firm_id": event.firm_id, "phone_hash": d["phone_hash"],
        "phone_ct": d["phone_ct"], "started_by": d["started_by"], "created_at": event.occurred_at,
        "last_activity_at": event.occurred_at, "last_message": None, "inbound_count": 0, "message_count": 0,
        "archived": False, "opted_out": False})
    if d["started_by"]:
        state = _user(store, event, d["started_by"])
        state["participant"] = True
        store.put(USER_STATE, state)


def _message(store: RowStore, event: Event, direction: str, sender: str | None, status: str,
             brings_back: bool) -> None:
    conv = store.get(CONVERSATIONS, (event.stream_id,))
    if conv is None:
        return
    d = event.data
    conv["last_message"] = {"id": d["message_id"], "direction": direction, "body_ct": d["body_ct"],
                            "media_count": len(d.get("media", [])), "sender_user_id": sender,
                            "status": status, "created_at": event.occurred_at}
    conv["last_activity_at"] = event.occurred_at
    conv["message_count"] += 1
    if brings_back:
        conv["archived"] = False
    if direction == "inbound":
        conv["inbound_count"] += 1
    store.put(CONVERSATIONS, conv)


def on_inbound(store: RowStore, event: Event) -> None:
    _message(store, event, "inbound", None, "received", brings_back=True)  # a new text brings it back


def on_outbound(store: RowStore, event: Event) -> None:
    user_id = event.data["user_id"]
    participating = sender_participates(user_id, event.data.get("participating"))
    _message(store, event, "outbound", user_id, "queued", brings_back=participating)
    if participating:
        state = _user(store, event, user_id)
        state.update(participant=True, muted=False, left=False)
        store.put(USER_STATE, state)


def on_status(store: RowStore, event: Event) -> None:
    conv = store.get(CONVERSATIONS, (event.stream_id,))
    last = (conv or {}).get("last_message") or {}
    new = event.data.get("status") or event.data.get("carrier_status")
    if last.get("id") == event.data["message_id"] and new and moves_forward(last["status"], new):
        last["status"] = new
        store.put(CONVERSATIONS, conv)


def _user_flag(**changes):
    def handler(store: RowStore, event: Event) -> None:
        state = _user(store, event, event.data["user_id"])
        state.update({k: (v(event) if callable(v) else v) for k, v in changes.items()})
        store.put(USER_STATE, state)
    return handler


def _conversation_flag(**changes):
    def handler(store: RowStore, event: Event) -> None:
        conv = store.get(CONVERSATIONS, (event.stream_id,))
        if conv is not None:
            conv.update(changes)
            store.put(CONVERSATIONS, conv)
    return handler


def _consent(change: str):
    flag = _conversation_flag(opted_out=change == "opted_out")

    def handler(store: RowStore, event: Event) -> None:
        flag(store, event)
        d = event.data
        store.put(CONSENT, {"conversation_id": event.stream_id, "seq": event.notification_id,
                            "firm_id": event.firm_id, "change": change, "source": d["source"],
                            "keyword": d["keyword"], "message_id": d["message_id"], "at": event.occurred_at})
    return handler


def on_blocked(store: RowStore, event: Event) -> None:
    store.delete(CONVERSATIONS, (event.stream_id,))
    for table, key in ((USER_STATE, "user_id"), (CONSENT, "seq")):
        for row in store.select(table, conversation_id=event.stream_id):
            store.delete(table, (event.stream_id, row[key]))


INBOX = Projection(
    name="inbox", tables=(CONVERSATIONS, USER_STATE, CONSENT), ddl=DDL,
    handlers={
        "Conversation.Started": on_started, "Conversation.InboundReceived": on_inbound,
        "Conversation.OutboundRequested": on_outbound, "Conversation.MessageDispatched": on_status,
        "Conversation.MessageStatusChanged": on_status,
        "Conversation.Muted": _user_flag(muted=True), "Conversation.Unmuted": _user_flag(muted=False),
        "Conversation.Left": _user_flag(left=True),
        "Conversation.MarkedRead": _user_flag(read_count=lambda e: e.data["inbound_count"]),
        "Conversation.Archived": _conversation_flag(archived=True),
        "Conversation.OptedOut": _consent("opted_out"), "Conversation.OptedIn": _consent("opted_in"),
        "Conversation.Blocked": on_blocked,
    })
