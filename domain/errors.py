"""Domain refusals. Each carries the API error code it maps to at the edge."""
from __future__ import annotations


class DomainError(Exception):
    code = "invalid_request"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code, status = "not_found", 404


class OptedOut(DomainError):
    code, status = "opted_out", 409


class Blocked(DomainError):
    code, status = "blocked", 409


class NumberTaken(DomainError):
    code, status = "number_taken", 409


class InvalidBody(DomainError):
    code, status = "invalid_body", 422


class MediaNotSupported(DomainError):
    code, status = "media_not_supported", 422


class InvalidInput(DomainError):
    code, status = "invalid_request", 422


class Conflict(DomainError):
    code, status = "conflict", 409


class EventTooLarge(DomainError):
    """The command would store an event larger than the log accepts: refused before storing."""
    code, status = "too_large", 413
