"""Conversation-messages projection: every message of every conversation, in order,
with its current delivery status. Bodies stay sealed; the API opens them per request."""
from __future__ import annotations

from domain.statuses import moves_forward
from projections.base import Projection
from projections.store import RowStore, Table
from domain.envelope import Event

MESSAGES = Table("messages", ("message_id",),
                 ("message_id", "conversation_id", "firm_id", "seq", "direction", "body_ct", "media",
                  "rejected_media", "sender_user_id", "status", "error_code", "carrier_sid", "created_at",
                  "updated_at"),
                 json=frozenset({"media", "rejected_media"}), timestamps=frozenset({"created_at", "updated_at"}))
COUNTERS = Table("counters", ("conversation_id",), ("conversation_id", "seq"))

DDL = """
CREATE TABLE {schema}.messages (message_id text PRIMARY KEY, conversation_id text NOT NULL,
    firm_id text NOT NULL, seq int NOT NULL, direction text NOT NULL, body_ct text NOT NULL,
    media jsonb NOT NULL, rejected_media jsonb NOT NULL, sender_user_id text, status text NOT NULL,
    error_code int, carrier_sid text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE UNIQUE INDEX ON {schema}.messages (conversation_id, seq);
CREATE TABLE {schema}.counters (conversation_id text PRIMARY KEY, seq int NOT NULL);
"""


def _next_seq(store: RowStore, conversation_id: str) -> int:
    counter = store.get(COUNTERS, (conversation_id,)) or {"conversation_id": conversation_id, "seq": 0}
    counter["seq"] += 1
    store.put(COUNTERS, counter)
    return counter["seq"]


def _add(store: RowStore, event: Event, direction: str, status: str, sender: str | None) -> None:
    d = event.data
    if store.get(MESSAGES, (d["message_id"],)) is not None:
        return
    store.put(MESSAGES, {
        "message_id": d["message_id"], "conversation_id": event.stream_id, "firm_id": event.firm_id,
        "seq": _next_seq(store, event.stream_id), "direction": direction, "body_ct": d["body_ct"],
        "media": d.get("media", []), "rejected_media": d.get("rejected_media", []), "sender_user_id": sender,
        "status": status, "error_code": None, "carrier_sid": d.get("carrier_sid"),
        "created_at": event.occurred_at, "updated_at": event.occurred_at})


def on_inbound(store: RowStore, event: Event) -> None:
    _add(store, event, "inbound", "received", None)


def on_outbound(store: RowStore, event: Event) -> None:
    _add(store, event, "outbound", "queued", event.data["user_id"])


def on_status(store: RowStore, event: Event) -> None:
    d = event.data
    row = store.get(MESSAGES, (d["message_id"],))
    if row is None:
        return
    new = d.get("status") or d.get("carrier_status")
    if d.get("carrier_sid"):
        row["carrier_sid"] = d["carrier_sid"]
    if new and moves_forward(row["status"], new):
        row["status"] = new
        row["error_code"] = d.get("error_code")
    row["updated_at"] = event.occurred_at
    store.put(MESSAGES, row)


def on_blocked(store: RowStore, event: Event) -> None:
    for row in store.select(MESSAGES, conversation_id=event.stream_id):
        store.delete(MESSAGES, (row["message_id"],))
    store.delete(COUNTERS, (event.stream_id,))


MESSAGES_PROJECTION = Projection(
    name="messages", tables=(MESSAGES, COUNTERS), ddl=DDL,
    handlers={"Conversation.InboundReceived": on_inbound, "Conversation.OutboundRequested": on_outbound,
              "Conversation.MessageDispatched": on_status, "Conversation.MessageStatusChanged": on_status,
              "Conversation.Blocked": on_blocked})
