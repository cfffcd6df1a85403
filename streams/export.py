"""An evidentiary transcript of one conversation, built from the log: pure functions.

Every fact in it (a message, each status change, a consent change) names the event
that recorded it: ``event_id``, ``notification_id``, ``hash`` and where it sits in
Kafka, so a third party can find that event in a copy of the log and recompute its
hash. The HTML form is adapters/render/export_html.py.
"""
from __future__ import annotations

from datetime import datetime, timezone

FORMAT = "firmtext-transcript/1"
HASH_RECIPE = ('sha256(json.dumps({k: v for k, v in envelope.items() if k != "hash"}, sort_keys=True, '
               'separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()')
VERIFICATION = [
    "This transcript was generated from firmtext's event log (Kafka topic firmtext.events), "
    "the append-only record of every message, delivery status and consent change.",
    "1. Obtain a copy of the log: `firmtext audit dump --out log.jsonl` (one JSON record per line, "
    "with its Kafka partition and offset, under a header line).",
    "2. For each event named below (messages[].recorded_by, messages[].statuses[].event, "
    "conversation.consent_history[].event, chain.events[]), find the log line whose envelope has the "
    "same event_id, and check notification_id, partition and offset.",
    "3. Recompute that envelope's hash: " + HASH_RECIPE + ". It must equal the `hash` in the log and here.",
    "4. Check the chain: within the conversation (its stream_id), versions run 1, 2, 3 ... and each "
    "envelope's prev_hash equals the hash of the version before (64 zeros for version 1). An event "
    "cannot be changed, removed or reordered without breaking this.",
    "5. `firmtext audit verify --log-file log.jsonl` performs steps 3-4 for every stream of the log; "
    "run without --log-file it also checks the log against the firm's event store.",
    "Message bodies and phone numbers are stored in the log encrypted under the conversation's key; "
    "the hash covers that ciphertext. The plaintext shown here was decrypted by the firm. A conversation "
    "whose number was blocked has its key destroyed: its texts read \"<shredded>\", while its events "
    "and their hashes remain verifiable. Attachments are identified by the sha256 of their bytes.",
]


def transcript(state: dict, chain: list[dict], chain_problem: str | None, firm: dict,
               users: dict[str, str], source: dict, generated_at: datetime | None = None) -> dict:
    """The transcript document (JSON-ready).

    ``state``: projections.history.conversation_at(...) of the whole conversation.
    ``chain``: the conversation's decoded events in log order (each once).
    ``chain_problem``: the first chain break found in them, or None.
    ``firm``: firm_id, name, number, time_zone. ``users``: user id -> name.
    ``source``: where the log was read (topic and end offsets, or a dump file).
    """
    messages = []
    for m in state["messages"]:
        sender = users.get(m["sender_user_id"], m["sender_user_id"]) if m["sender_user_id"] else None
        messages.append({**m, "sender_name": sender})
    conversation = {k: state[k] for k in ("conversation_id", "phone", "started_at", "started_by", "archived",
                                          "blocked", "participants", "muted", "left", "inbound_count",
                                          "dropped_texts")}
    conversation["opted_out"] = state["consent"]["opted_out"]
    conversation["consent_history"] = state["consent"]["history"]
    return {
        "format": FORMAT,
        "generated_at": (generated_at or datetime.now(timezone.utc)).isoformat(),
        "verification": VERIFICATION,
        "source": source,
        "firm": firm,
        "conversation": conversation,
        "messages": messages,
        "chain": {"verified": chain_problem is None, "problem": chain_problem,
                  "events": [{"type": e["type"], "stream_id": e["stream_id"], "prev_hash": e["prev_hash"],
                              **{k: e[k] for k in ("event_id", "notification_id", "stream_version",
                                                   "occurred_at", "hash", "partition", "offset") if k in e}}
                             for e in chain]},
    }


def firm_facts(events: list[dict], firm_id: str) -> tuple[dict, dict[str, str]]:
    """The firm's latest name/number/time zone and its staff names, from its decoded events."""
    firm = {"firm_id": firm_id}
    users: dict[str, str] = {}
    user_of_stream: dict[str, str] = {}  # StaffUser.Updated carries no user_id: its stream does
    for e in events:
        if e["firm_id"] != firm_id:
            continue
        if e["type"] in ("Firm.Registered", "Firm.Updated"):
            firm.update({k: e["data"].get(k) for k in ("name", "number", "time_zone")})
        elif e["type"] == "StaffUser.Synced":
            user_of_stream[e["stream_id"]] = e["data"]["user_id"]
        if e["type"] in ("StaffUser.Synced", "StaffUser.Updated") and e["stream_id"] in user_of_stream:
            users[user_of_stream[e["stream_id"]]] = e["data"].get("name")
    return firm, users
