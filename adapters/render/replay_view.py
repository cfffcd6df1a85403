"""How replay shows events and reconstructed conversations to a person: pure formatting."""
from __future__ import annotations

from datetime import timezone

from domain.envelope import occurred


def _quote(text, limit: int = 60) -> str:
    text = str(text).replace("\n", " ")
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def summary(event: dict) -> str:
    """One readable line about a decoded event's data."""
    d, kind = event["data"], event["type"].split(".", 1)[-1]
    if kind == "InboundReceived":
        extra = f" +{len(d.get('media') or [])} media" if d.get("media") else ""
        return f"in {d['message_id'][:8]}: {_quote(d.get('body'))}{extra}"
    if kind == "OutboundRequested":
        return f"out {d['message_id'][:8]} by {d['user_id']}: {_quote(d.get('body'))}"
    if kind == "MessageDispatched":
        return f"{d['message_id'][:8]} handed to carrier ({d['carrier_sid']}, {d['carrier_status']})"
    if kind == "MessageStatusChanged":
        code = f" error {d['error_code']}" if d.get("error_code") else ""
        return f"{d['message_id'][:8]} -> {d['status']}{code}"
    if kind in ("OptedOut", "OptedIn"):
        return f"{kind} via {d.get('source')}" + (f" ({d['keyword']})" if d.get("keyword") else "")
    if kind == "Started" and "phone" in d:
        return f"with {d['phone']}" + (f" by {d['started_by']}" if d.get("started_by") else "")
    parts = [f"{k}={_quote(v, 30) if isinstance(v, str) else v}" for k, v in d.items()
             if k not in ("firm_id", "phone_hash", "phone_hashes")]
    return " ".join(parts)[:120]


def table_header() -> str:
    return f"{'TIME (UTC)':<19}  {'TYPE':<34}  {'STREAM':<8}  SUMMARY"


def table_row(event: dict) -> str:
    """time, type, stream (first 8 hex digits), summary."""
    when = occurred(event).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"{when:<19}  {event['type']:<34}  {event['stream_id'][:8]:<8}  {summary(event)}"


def state_lines(state: dict) -> list[str]:
    """A reconstructed conversation (projections.history) as readable lines."""
    flags = [name for name in ("opted_out", "archived", "blocked") if state.get(name)]
    lines = [f"Conversation {state['conversation_id']} (firm {state['firm_id']}) as of {state['as_of'] or 'now'}",
             f"  number: {state['phone']}   started {state['started_at']}",
             f"  state: {', '.join(flags) or 'open, textable'}",
             f"  participants: {', '.join(state['participants']) or '-'}   muted: "
             f"{', '.join(state['muted']) or '-'}   left: {', '.join(state['left']) or '-'}",
             "  consent history:" if state["consent"]["history"] else "  consent history: none"]
    for change in state["consent"]["history"]:
        lines.append(f"    {change['at']}  {change['change']} via {change['source']}"
                     + (f" ({change['keyword']})" if change.get("keyword") else ""))
    lines.append(f"  messages ({len(state['messages'])}):")
    for m in state["messages"]:
        who = m["sender_user_id"] or "client"
        lines.append(f"    {m['created_at']}  {m['direction']:<8} {who:<10} {m['status']:<11} {_quote(m['body'])}")
    return lines
