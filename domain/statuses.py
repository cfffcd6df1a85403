"""Delivery statuses (Twilio's vocabulary) and the rule that they only move forward.

Carrier callbacks arrive in any order (delivered before sent is common); a status is
applied only when it ranks above the current one. Outcomes share a rank and are
final, so one outcome never replaces another.
"""
from __future__ import annotations

RANK = {
    "accepted": 0,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "receiving": 4,
    "received": 5,
    "delivered": 6,
    "undelivered": 6,
    "failed": 6,
    "canceled": 6,
    "read": 6,  # WhatsApp/RCS read receipts; SMS has none, so it is just another outcome
}
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})


def is_known(status: str) -> bool:
    return status in RANK


def moves_forward(current: str | None, new: str) -> bool:
    """True when ``new`` may replace ``current`` (None: no status yet).

    An unknown new status never applies: a projection must not crash on a value
    from the log it does not understand."""
    if new not in RANK or current in FINAL:
        return False
    return RANK[new] > RANK.get(current, -1) if current is not None else True
