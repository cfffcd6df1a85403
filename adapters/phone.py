"""Phone numbers: normalise what people type into E.164, and mask numbers for logs.

No phone library is installed, so the rules are deliberately small: North American
Numbering Plan numbers may be written without a country code (10 digits, or 11
starting with 1); every other number must start with ``+`` and its country code.
"""
from __future__ import annotations

import re

E164_MAX_DIGITS = 15
# The shortest numbers in service (a few Pacific islands) have 7 digits with their code.
E164_MIN_DIGITS = 7
NANP_REGIONS = frozenset({"US", "CA", "PR", "VI", "GU", "AS", "MP"})

# Digits plus the separators people type; anything else (letters, "x123") is refused.
_ALLOWED = re.compile(r"\+?[0-9 ().\-]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class InvalidPhone(ValueError):
    """The text is not a phone number firmtext can text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _nanp(digits: str) -> str:
    """``digits`` is the 10-digit national number; check the area code and add +1."""
    # Only the area code is checked: exchanges like 555-0100 or 000 are used by
    # fictional and development numbers, which firmtext must accept.
    if digits[0] in "01":
        raise InvalidPhone("a North American area code cannot start with 0 or 1")
    return "+1" + digits


def to_e164(raw: str, default_region: str = "US") -> str:
    """Normalise ``raw`` to E.164 (``+15551234567``) or raise :class:`InvalidPhone`.

    ``default_region`` decides how a number without ``+`` is read; only North American
    regions are supported for that, so other numbers need their ``+`` country code.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("a phone number is required")
    if not _ALLOWED.fullmatch(text):
        raise InvalidPhone("a phone number may contain only digits, spaces, ( ) . - and a leading +")
    digits = re.sub(r"[^0-9]", "", text)
    if not digits:
        raise InvalidPhone("a phone number needs digits")
    if len(digits) > E164_MAX_DIGITS:
        raise InvalidPhone(f"a phone number has at most {E164_MAX_DIGITS} digits")
    if text.startswith("+"):
        if digits.startswith("1"):
            if len(digits) != 11:
                raise InvalidPhone("a +1 number has exactly 10 digits after the country code")
            return _nanp(digits[1:])
        if len(digits) < E164_MIN_DIGITS or digits[0] == "0":
            raise InvalidPhone("not a valid international number")
        return "+" + digits
    if default_region.upper() not in NANP_REGIONS:
        raise InvalidPhone("include the country code, starting with +")
    if len(digits) == 10:
        return _nanp(digits)
    if len(digits) == 11 and digits.startswith("1"):
        return _nanp(digits[1:])
    raise InvalidPhone("a North American number has 10 digits (or 11 starting with 1); "
                       "other countries need a leading + and the country code")


def is_e164(value: str) -> bool:
    """True when ``value`` is already in E.164 form (``+`` and 7 to 15 digits)."""
    return bool(_E164.fullmatch(value or ""))


def mask_phone(value: str | None) -> str:
    """The number with all but its last 4 digits hidden, for logs (``***4567``)."""
    digits = re.sub(r"[^0-9]", "", value or "")
    return "***" + digits[-4:] if digits else "***"
