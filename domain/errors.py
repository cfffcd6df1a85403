"""Domain refusals: what the rules said no to, in the firm's language.

Each carries a stable ``code`` (the API's error code, also useful to other callers);
how a refusal is answered over HTTP is decided once, at the edge (adapters/http/errors.py).
"""
from __future__ import annotations


class DomainError(Exception):
    code = "invalid_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """No such thing for this firm (other firms' things and blocked conversations alike)."""
    code = "not_found"


class OptedOut(DomainError):
    code = "opted_out"


class Blocked(DomainError):
    code = "blocked"


class NumberTaken(DomainError):
    code = "number_taken"


class InvalidBody(DomainError):
    code = "invalid_body"


class MediaNotSupported(DomainError):
    code = "media_not_supported"


class InvalidInput(DomainError):
    code = "invalid_request"


class Conflict(DomainError):
    code = "conflict"


class EventTooLarge(DomainError):
    """The command would store an event larger than the log accepts: refused before storing."""
    code = "too_large"
