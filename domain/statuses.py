"""Delivery statuses and the rule that they only move forward.

Carrier callbacks arrive in any order (delivered before sent is common); a status
is applied only when it ranks above the current one, and final states never change.
"""
from __future__ import annotations

RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "received": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled"})


def is_known(status: str) -> bool:
    return status in RANK


def moves_forward(current: str, new: str) -> bool:
    """True when ``new`` may replace ``current``."""
    if current in FINAL or new not in RANK:
        return False
    return RANK[new] > RANK.get(current, -1)
