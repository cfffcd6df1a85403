"""Which carrier record, if any, is an interrupted send (pure; see docs/carrier.md).

Twilio's Messages API has no idempotency key, so a sender that died after the carrier
accepted a text but before recording it cannot simply send again. It lists what the
carrier holds from the firm's number to the client's (by From, To and DateSent, a whole
day) and narrows that here: the same body, created no earlier than the interrupted
claim (less some clock slack), and not already recorded for another text of the
conversation (the client may have been sent the same words before).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

OUTBOUND = ("outbound-api", "outbound-call", "outbound-reply")


def created_at(message: dict) -> datetime | None:
    """A message resource's ``date_created`` (RFC 2822, as Twilio writes it)."""
    try:
        return parsedate_to_datetime(str(message.get("date_created")))
    except (TypeError, ValueError):
        return None


def interrupted_send(listing: list[dict], body: str, since: datetime, known_sids: set[str],
                     slack_seconds: float) -> dict | None:
    """The earliest message of ``listing`` that is the send interrupted at ``since``."""
    earliest = since - timedelta(seconds=slack_seconds)
    candidates = []
    for message in listing:
        created = created_at(message)
        if (message.get("body") == body and str(message.get("sid")) not in known_sids
                and message.get("direction", "outbound-api") in OUTBOUND
                and created is not None and created >= earliest):
            candidates.append((created, str(message.get("sid")), message))
    return min(candidates)[2] if candidates else None
