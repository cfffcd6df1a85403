"""The input policy: what text firmtext accepts, in one place (docs/input-policy.md).

Every field of every command and webhook goes through one of these checks at the
edge (the HTTP models, the webhook parser, the JWT claims), so whatever is accepted
can be stored and shown intact by every projection, the print view and the rebuild:
PostgreSQL refuses NUL in text and jsonb, and UTF-8 cannot carry a lone surrogate.

Pure functions: each returns the value unchanged or raises :class:`InputRefused`
(a ValueError, so pydantic validators report it as a 422).
"""
from __future__ import annotations

import re

# Ids chosen by the host platform (firm, user, contact, case, permission names): URL-safe
# unreserved characters (RFC 3986), so an id is the same in a path, a JSON body and a key.
ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,128}")
MAX_ID_CHARS = 128
# A carrier message sid (Twilio's MessageSid): an inbound webhook with any other is refused,
# so only sids of this shape can ever be presented again (the sid index, domain/unit_of_work.py).
CARRIER_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")

MAX_NAME_CHARS = 200          # a person's, a contact's or a firm's name
MAX_CASE_NAME_CHARS = 300     # case captions run long ("Estate of … v. …")
MAX_HELP_TEXT_CHARS = 1600    # answered by SMS: at most one concatenated text
MAX_EMAIL_CHARS = 254         # RFC 5321: a 256-octet path minus its angle brackets
MAX_CONTENT_TYPE_CHARS = 255  # RFC 6838: 127 for the type, 127 for the subtype, "/"
MAX_MEDIA_URL_CHARS = 2048    # what browsers and proxies reliably carry
MAX_TIME_ZONE_CHARS = 64
# Twilio concatenates a long inbound text into one Body of at most 1,600 characters
# (its documented maximum). Twice that leaves room for carriers that concatenate more
# segments than Twilio documents, and still keeps an event a few kilobytes.
MAX_INBOUND_BODY_CHARS = 3200
# Whole requests, checked before parsing (adapters/http/body_limit.py). The largest
# valid JSON command is a case with 500 contact ids of 128 characters (~66 KB); the
# largest valid webhook is a 3,200-character body percent-encoded (~39 KB) plus media.
MAX_JSON_REQUEST_BYTES = 256 * 1024
MAX_WEBHOOK_REQUEST_BYTES = 64 * 1024

# C0 and C1 control characters (Unicode category Cc), lone surrogates, and the line and
# paragraph separators (str.splitlines() and email headers treat them as line breaks).
_NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Free text (message bodies, help text) may hold what a person types: tab, newline, CR.
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_TIME_ZONE = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


class InputRefused(ValueError):
    """A value the policy refuses; ``message`` says why without repeating the value."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _why(ch: str) -> str:
    if ch == "\x00":
        return "a NUL character"
    if "\ud800" <= ch <= "\udfff":
        return "a lone surrogate (not a Unicode character)"
    if ch in "\u2028\u2029":
        return "a line or paragraph separator"
    return f"the control character U+{ord(ch):04X}"


def _checked(value: str, what: str, max_chars: int, forbidden: re.Pattern) -> str:
    if not isinstance(value, str):
        raise InputRefused(f"{what} must be text")
    if len(value) > max_chars:
        raise InputRefused(f"{what} is {len(value)} characters long; the limit is {max_chars}")
    bad = forbidden.search(value)
    if bad:
        raise InputRefused(f"{what} contains {_why(bad.group())}")
    return value


def check_line(value: str, what: str = "the value", max_chars: int = MAX_NAME_CHARS) -> str:
    """One line of text (names, content types, URLs): no control characters at all."""
    return _checked(value, what, max_chars, _NOT_IN_A_LINE)


def check_name(value: str, what: str = "the name", max_chars: int = MAX_NAME_CHARS) -> str:
    """A name people read: one line, not empty, not only spaces."""
    check_line(value, what, max_chars)
    if not value.strip():
        raise InputRefused(f"{what} must not be empty")
    return value


def check_text(value: str, what: str = "the text", max_chars: int = MAX_HELP_TEXT_CHARS) -> str:
    """Free text a person typed (message bodies, help text): tab, newline and CR allowed."""
    return _checked(value, what, max_chars, _NOT_IN_TEXT)


def check_id(value: str, what: str = "the id") -> str:
    """An id chosen by the host platform: 1-128 of ``A-Z a-z 0-9 . _ ~ -``, not only dots
    (``.`` and ``..`` would be rewritten as path segments by HTTP clients)."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value) or not value.strip("."):
        raise InputRefused(f"{what} must be 1 to {MAX_ID_CHARS} letters, digits or . _ ~ - (not only dots)")
    return value


def is_id(value: object) -> bool:
    """True when ``value`` follows the id grammar."""
    return isinstance(value, str) and bool(ID_PATTERN.fullmatch(value)) and bool(value.strip("."))


def check_time_zone_name(value: str) -> str:
    """The shape of an IANA zone name (``America/New_York``); whether it exists is the edge's check."""
    check_line(value, "time_zone", MAX_TIME_ZONE_CHARS)
    if not _TIME_ZONE.fullmatch(value):
        raise InputRefused("time_zone must be an IANA zone such as America/New_York")
    return value
