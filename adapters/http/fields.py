"""The input policy (domain/input_policy.py) as pydantic types for the HTTP models and
path parameters: a field typed ``Name`` or ``Id`` cannot hold what the policy refuses,
and a refusal is a 422 in the contract's error shape (adapters/http/errors.py)."""
from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field

from adapters.phone import to_e164
from domain.input_policy import (MAX_CASE_NAME_CHARS, MAX_EMAIL_CHARS, MAX_HELP_TEXT_CHARS, InputRefused,
                                 check_id, check_line, check_name, check_text, check_time_zone_name)


def check_email(value: str) -> str:
    """A mailbox people can be sent notifications at: one line, RFC 5321 lengths, parsed by
    ``email-validator`` (no display names, quoted local parts or IP literals; no DNS lookup).
    Kept as typed: the address shown back is the address given."""
    check_line(value, "email", MAX_EMAIL_CHARS)
    try:
        # SMTPUTF8 off: the mailer speaks plain SMTP, so a non-ASCII local part could not be delivered.
        # test_environment: the reserved .test domain (RFC 2606) that development and tests use.
        validate_email(value, check_deliverability=False, allow_smtputf8=False, test_environment=True,
                       strict=True)  # strict: RFC 5321 limits the part before the @ to 64 octets
    except EmailNotValidError as exc:
        raise InputRefused(f"email is not a valid address: {exc}") from None
    return value


def check_zone(value: str) -> str:
    """An IANA time zone that this machine knows."""
    check_time_zone_name(value)
    try:
        ZoneInfo(value)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise InputRefused("time_zone must be an IANA zone such as America/New_York") from None
    return value


Id = Annotated[str, AfterValidator(check_id)]
Name = Annotated[str, AfterValidator(check_name)]
CaseName = Annotated[str, AfterValidator(lambda v: check_name(v, "the case name", MAX_CASE_NAME_CHARS))]
HelpText = Annotated[str, AfterValidator(lambda v: check_text(v, "help_text", MAX_HELP_TEXT_CHARS))]
Email = Annotated[str, AfterValidator(check_email)]
TimeZone = Annotated[str, AfterValidator(check_zone)]
Phone = Annotated[str, AfterValidator(to_e164)]  # InvalidPhone is a ValueError: a 422
Ids = Annotated[list[Id], Field(max_length=500)]
