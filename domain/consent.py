"""Carrier-standard opt-out keywords (the same set Twilio honours for long codes)."""
from __future__ import annotations

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})


def keyword_of(body: str) -> str | None:
    """The keyword when the whole text is exactly one (trimmed, any case), else None."""
    word = (body or "").strip().upper()
    if word in OPT_OUT or word in OPT_IN or word in HELP:
        return word
    return None


def consent_effect(keyword: str | None) -> str | None:
    """'opt_out', 'opt_in', 'help' or None."""
    if keyword in OPT_OUT:
        return "opt_out"
    if keyword in OPT_IN:
        return "opt_in"
    if keyword in HELP:
        return "help"
    return None
