"""A conversation as it stood at a given moment, folded from its decoded events.

Pure: no aggregates, no store, no keys. The input is what ``firmtext replay`` prints
(envelopes whose sealed fields are already opened), so a reconstruction can be
checked by hand against the log. Unlike the live aggregate, a block does not empty
the view: an auditor must still see which messages existed (their text is shredded).
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

# The one rule shared with the aggregate: a status only moves forward (pure table).
from domain.conversation import SYSTEM_USER  # automatic replies: never a participant
from domain.envelope import parse_time
from domain.statuses import moves_forward



def event_ref(event: dict) -> dict:
    """What identifies the event that recorded a fact: enough to find and re-hash it."""
    keys = ("event_id", "notification_id", "stream_version", "hash", "occurred_at", "partition", "offset")
    return {k: event[k] for k in keys if k in event}


def _message(event: dict, direction: str, status: str, sender: str | None) -> dict:
    d = event["data"]
    return {"message_id": d["message_id"], "direction": direction, "body": d.get("body"),
            "sender_user_id": sender, "created_at": event["occurred_at"], "media": d.get("media") or [],
            "rejected_media": d.get("rejected_media") or [], "keyword": d.get("keyword"),
            "carrier_sid": d.get("carrier_sid"), "status": status, "error_code": None,
            "statuses": [{"status": status, "at": event["occurred_at"], "error_code": None,
                          "event": event_ref(event)}],
            "recorded_by": event_ref(event)}


def _forward(current: str, new: str) -> bool:
    """The aggregate's rule; a status it does not know leaves the message as it was
    (a replay must show an odd log, not stop on it)."""
    try:
        return moves_forward(current, new)
    except ValueError:
        return False


def _set_status(msg: dict, event: dict, status: str, error_code: int | None) -> None:
    msg["status"], msg["error_code"] = status, error_code
    msg["statuses"].append({"status": status, "at": event["occurred_at"], "error_code": error_code,
                            "event": event_ref(event)})


def _apply(state: dict, event: dict) -> None:
    kind, d = event["type"].split(".", 1)[1], event["data"]
    users, msgs = state["_sets"], state["_messages"]
    if kind == "Started":
        state.update(firm_id=event["firm_id"], phone=d.get("phone"), started_at=event["occurred_at"],
                     started_by=d.get("started_by"))
        if d.get("started_by"):
            users["participants"].add(d["started_by"])
    elif kind == "InboundReceived":
        msgs[d["message_id"]] = _message(event, "inbound", "received", None)
        state["inbound_count"] += 1
        state["archived"] = False  # a new text brings the conversation back to the inbox
    elif kind == "OutboundRequested":
        msgs[d["message_id"]] = _message(event, "outbound", "queued", d["user_id"])
        if d["user_id"] != SYSTEM_USER:
            users["participants"].add(d["user_id"])
            users["left"].discard(d["user_id"])
            users["muted"].discard(d["user_id"])
    elif kind == "MessageDispatched" and d["message_id"] in msgs:
        msg = msgs[d["message_id"]]
        msg["carrier_sid"] = d["carrier_sid"]
        msg["dispatched"] = {"at": event["occurred_at"], "carrier_status": d["carrier_status"],
                             "event": event_ref(event)}
        if _forward(msg["status"], d["carrier_status"]):
            _set_status(msg, event, d["carrier_status"], None)
    elif kind == "MessageStatusChanged" and d["message_id"] in msgs:
        _set_status(msgs[d["message_id"]], event, d["status"], d.get("error_code"))
    elif kind in ("OptedOut", "OptedIn"):
        state["opted_out"] = kind == "OptedOut"
        state["consent_history"].append({"change": "opted_out" if kind == "OptedOut" else "opted_in",
                                         "at": event["occurred_at"], "source": d.get("source"),
                                         "keyword": d.get("keyword"), "message_id": d.get("message_id"),
                                         "event": event_ref(event)})
    elif kind == "HelpRequested" and d.get("message_id") in msgs:
        msgs[d["message_id"]]["help_answered"] = d.get("answered")
    elif kind in ("Muted", "Unmuted", "Left"):
        target = users["left"] if kind == "Left" else users["muted"]
        (target.discard if kind == "Unmuted" else target.add)(d["user_id"])
    elif kind == "MarkedRead":
        state["read_by"][d["user_id"]] = d["inbound_count"]
    elif kind == "Archived":
        state["archived"] = True
    elif kind == "Blocked":
        state.update(blocked=True, blocked_at=event["occurred_at"], blocked_by=d.get("user_id"))
    elif kind == "BlockedTextDropped":
        state["dropped_texts"] += 1


def conversation_at(events: Iterable[dict], conversation_id: str, as_of: datetime | None = None) -> dict | None:
    """The conversation ``conversation_id`` as of ``as_of`` (inclusive; None = everything).

    ``events``: decoded events in log order (others are ignored). Returns None when the
    conversation had not started by then.
    """
    state = {"conversation_id": conversation_id, "as_of": as_of.isoformat() if as_of else None,
             "firm_id": None, "phone": None, "started_at": None, "started_by": None,
             "archived": False, "opted_out": False, "blocked": False, "inbound_count": 0,
             "dropped_texts": 0, "read_by": {}, "consent_history": [], "events_applied": 0,
             "last_event_at": None, "_sets": {"participants": set(), "muted": set(), "left": set()},
             "_messages": {}}
    for event in events:
        if event["stream_id"] != conversation_id or not event["type"].startswith("Conversation."):
            continue
        if as_of is not None and parse_time(event["occurred_at"]) > as_of:
            continue
        _apply(state, event)
        state["events_applied"] += 1
        state["last_event_at"] = event["occurred_at"]
    if state["started_at"] is None:
        return None
    for name, members in state.pop("_sets").items():
        state[name] = sorted(members)
    state["messages"] = list(state.pop("_messages").values())
    state["consent"] = {"opted_out": state["opted_out"], "history": state.pop("consent_history")}
    return state
