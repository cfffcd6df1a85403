"""Notification-triggers projection: who is told about which text, and how.

Rules (the seed's, spelled out in docs/inbox.md):
- An inbound text notifies the conversation's participants (users who started it or
  sent in it) who have not muted or left it.
- While no one at the firm has taken part yet (a number the firm never texted with),
  it notifies every user with the texting permission.
- An outgoing text never raises the in-app bubble for others; it may reach other
  participants by email/desktop when they chose "firm" or "both".
- Email and desktop follow each user's preference: clients | firm | both | none.
Rows are keyed by (event, user), so a redelivered event changes nothing.
"""
from __future__ import annotations

from domain.conversation import sender_participates
from projections.base import Projection
from projections.store import RowStore, Table
from domain.envelope import Event

NOTIFICATIONS = Table(
    "notifications", ("id",),
    ("id", "firm_id", "user_id", "seq", "conversation_id", "message_id", "kind", "in_app", "email",
     "desktop", "created_at"), timestamps=frozenset({"created_at"}))
CONVERSATIONS = Table("conversation_state", ("conversation_id",),
                      ("conversation_id", "firm_id", "participants", "muted", "left"),
                      json=frozenset({"participants", "muted", "left"}))
USERS = Table("users", ("stream_id",), ("stream_id", "firm_id", "user_id", "permissions", "notify_email",
                                        "notify_desktop", "email"), json=frozenset({"permissions"}))

DDL = """
CREATE TABLE {schema}.notifications (id text PRIMARY KEY, firm_id text NOT NULL, user_id text NOT NULL,
    seq bigint NOT NULL, conversation_id text NOT NULL, message_id text NOT NULL, kind text NOT NULL,
    in_app boolean NOT NULL, email boolean NOT NULL, desktop boolean NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX ON {schema}.notifications (firm_id, user_id, seq DESC);
CREATE INDEX ON {schema}.notifications (conversation_id);
CREATE INDEX ON {schema}.notifications (created_at) WHERE email;  -- the mailer's scan
CREATE TABLE {schema}.conversation_state (conversation_id text PRIMARY KEY, firm_id text NOT NULL,
    participants jsonb NOT NULL, muted jsonb NOT NULL, "left" jsonb NOT NULL);
CREATE TABLE {schema}.users (stream_id text PRIMARY KEY, firm_id text NOT NULL, user_id text NOT NULL,
    permissions jsonb NOT NULL, notify_email text NOT NULL, notify_desktop text NOT NULL, email text);
CREATE INDEX ON {schema}.users (firm_id);
"""


def wants(preference: str, source: str) -> bool:
    """Does a channel preference (clients|firm|both|none) cover texts from ``source``?"""
    return preference == "both" or preference == source


def _state(store: RowStore, event: Event) -> dict:
    return store.get(CONVERSATIONS, (event.stream_id,)) or {
        "conversation_id": event.stream_id, "firm_id": event.firm_id, "participants": [], "muted": [], "left": []}


def _set(values: list, user: str, present: bool) -> list:
    rest = [v for v in values if v != user]
    return sorted(rest + [user]) if present else rest


def on_started(store: RowStore, event: Event) -> None:
    state = _state(store, event)
    if event.data["started_by"]:
        state["participants"] = _set(state["participants"], event.data["started_by"], True)
    store.put(CONVERSATIONS, state)


def _notify(store: RowStore, event: Event, user: dict | None, user_id: str, kind: str,
            in_app: bool, source: str) -> None:
    email = bool(user and user["email"] and wants(user["notify_email"], source))
    desktop = bool(user and wants(user["notify_desktop"], source))
    if not (in_app or email or desktop):
        return
    store.put(NOTIFICATIONS, {
        "id": f"{event.envelope['event_id']}:{user_id}", "firm_id": event.firm_id, "user_id": user_id,
        "seq": event.notification_id, "conversation_id": event.stream_id,
        "message_id": event.data["message_id"], "kind": kind, "in_app": in_app, "email": email,
        "desktop": desktop, "created_at": event.occurred_at})


def on_inbound(store: RowStore, event: Event) -> None:
    state = _state(store, event)
    users = {u["user_id"]: u for u in store.select(USERS, firm_id=event.firm_id)}
    if state["participants"]:
        kind, recipients = "inbound", state["participants"]
    else:
        kind = "new_number"
        recipients = sorted(uid for uid, u in users.items() if "texting" in u["permissions"])
    for user_id in recipients:
        if user_id in state["muted"] or user_id in state["left"]:
            continue
        _notify(store, event, users.get(user_id), user_id, kind, in_app=True, source="clients")


def on_outbound(store: RowStore, event: Event) -> None:
    sender = event.data["user_id"]
    state = _state(store, event)
    if not sender_participates(sender, event.data.get("participating")):
        return  # an automatic reply: no one is told, and no one's membership changes
    users = {u["user_id"]: u for u in store.select(USERS, firm_id=event.firm_id)}
    for user_id in state["participants"]:
        if user_id != sender and user_id not in state["muted"] and user_id not in state["left"]:
            _notify(store, event, users.get(user_id), user_id, "firm_message", in_app=False, source="firm")
    state["participants"] = _set(state["participants"], sender, True)
    state["muted"] = _set(state["muted"], sender, False)
    state["left"] = _set(state["left"], sender, False)
    store.put(CONVERSATIONS, state)


def _membership(field: str, present: bool):
    def handler(store: RowStore, event: Event) -> None:
        state = _state(store, event)
        state[field] = _set(state[field], event.data["user_id"], present)
        store.put(CONVERSATIONS, state)
    return handler


def on_user(store: RowStore, event: Event) -> None:
    d = event.data
    old = store.get(USERS, (event.stream_id,)) or {}
    store.put(USERS, {"stream_id": event.stream_id, "firm_id": event.firm_id,
                      "user_id": d.get("user_id", old.get("user_id")), "permissions": d["permissions"],
                      "notify_email": d["notify_email"], "notify_desktop": d["notify_desktop"],
                      "email": d["email"]})


def on_blocked(store: RowStore, event: Event) -> None:
    for row in store.select(NOTIFICATIONS, conversation_id=event.stream_id):
        store.delete(NOTIFICATIONS, (row["id"],))
    store.delete(CONVERSATIONS, (event.stream_id,))


NOTIFICATIONS_PROJECTION = Projection(
    name="notifications", tables=(NOTIFICATIONS, CONVERSATIONS, USERS), ddl=DDL,
    handlers={"Conversation.Started": on_started, "Conversation.InboundReceived": on_inbound,
              "Conversation.OutboundRequested": on_outbound,
              "Conversation.Muted": _membership("muted", True), "Conversation.Unmuted": _membership("muted", False),
              "Conversation.Left": _membership("left", True), "Conversation.Blocked": on_blocked,
              "StaffUser.Synced": on_user, "StaffUser.Updated": on_user})
