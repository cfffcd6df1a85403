"""Phone numbers: parse what people type with ``phonenumbers`` (Google's libphonenumber),
validate them for their region, return E.164, format them for people, mask them for logs.

One exception to libphonenumber's rules, on purpose: North American numbers in the
fictional area code 555 (``+1 555 123 4567``), which films, documentation, tests and
development use and which no carrier routes, are accepted. libphonenumber calls them
invalid; firmtext's README, tests and simulator rely on them.
"""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

DEFAULT_REGION = "US"
MAX_INPUT_CHARS = 64  # a formatted E.164 number with spaces is at most ~25 characters
FICTIONAL_AREA_CODE = "555"

# Digits plus the separators people type; letters ("555-CALL-NOW"), extensions ("x12")
# and control characters are refused before parsing: a text cannot reach an extension.
_ALLOWED = re.compile(r"\+?[0-9 ().\-]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class InvalidPhone(ValueError):
    """The text is not a phone number firmtext can text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _is_fictional(number: phonenumbers.PhoneNumber) -> bool:
    national = str(number.national_number)
    return number.country_code == 1 and len(national) == 10 and national.startswith(FICTIONAL_AREA_CODE)


def to_e164(raw: str, default_region: str = DEFAULT_REGION) -> str:
    """Normalise ``raw`` to E.164 (``+15551234567``) or raise :class:`InvalidPhone`.

    A number without ``+`` is read as a national number of ``default_region`` (an ISO
    3166 code: "US", "GB", …). The error never repeats the number (it may be logged).
    Answers are remembered (every inbound webhook parses two numbers, mostly the same
    ones, and parsing was a tenth of the API's CPU under load: issue 11); refusals are not.
    """
    return _to_e164(raw.strip() if isinstance(raw, str) else "", default_region)


@lru_cache(maxsize=65536)  # bounded: about 10 MB at most, whatever numbers arrive
def _to_e164(text: str, default_region: str) -> str:
    if not text:
        raise InvalidPhone("a phone number is required")
    if len(text) > MAX_INPUT_CHARS or not _ALLOWED.fullmatch(text):
        raise InvalidPhone("a phone number may contain only digits, spaces, ( ) . - and a leading +")
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region.upper())
    except NumberParseException:
        raise InvalidPhone("not a phone number; numbers outside the default region need a leading + "
                           "and the country code") from None
    if not (phonenumbers.is_valid_number(number) or _is_fictional(number)):
        raise InvalidPhone("not a valid phone number for its country (check the digits and the country code)")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def for_people(e164: str, region: str = DEFAULT_REGION) -> str:
    """The number as people write it: national form for ``region`` (``(555) 123-4567``),
    international form otherwise (``+44 20 7946 0958``)."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    same_region = phonenumbers.region_code_for_country_code(number.country_code) == region.upper()
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL if same_region
                                      else PhoneNumberFormat.INTERNATIONAL)


def is_e164(value: str) -> bool:
    """True when ``value`` is already in E.164 form (``+`` and 7 to 15 digits)."""
    return bool(_E164.fullmatch(value or ""))


def mask_phone(value: str | None) -> str:
    """The number with all but its last 4 digits hidden, for logs (``***4567``)."""
    digits = re.sub(r"[^0-9]", "", value or "")
    return "***" + digits[-4:] if digits else "***"
