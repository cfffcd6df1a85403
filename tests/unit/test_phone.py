"""Normalising typed phone numbers to E.164 (libphonenumber, plus the fictional 555 area code)."""
import pytest

from adapters.phone import InvalidPhone, for_people, is_e164, mask_phone, to_e164


@pytest.mark.parametrize("raw, expected", [
    ("(555) 123-4567", "+15551234567"),
    ("555.123.4567", "+15551234567"),
    ("+1 555 123 4567", "+15551234567"),
    ("1-555-123-4567", "+15551234567"),
    ("5551234567", "+15551234567"),
    ("  +15551234567 ", "+15551234567"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+33 1 23 45 67 89", "+33123456789"),
    ("+15550000000", "+15550000000"),
    ("+86 139 1234 5678", "+8613912345678"),    # a Chinese mobile
    ("+49 1512 3456789", "+4915123456789"),     # a German mobile
    ("+61 412 345 678", "+61412345678"),        # an Australian mobile
    ("+81 90-1234-5678", "+819012345678"),      # a Japanese mobile
    ("(212) 555-0100", "+12125550100"),         # a real area code
])
def test_accepts(raw, expected):
    assert to_e164(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "   ", "abc", "555-CALL-NOW", "555 123 4567 x12", "+1 (555) 123-45a7",
    "12345",                 # too short
    "555123456",             # 9 digits
    "+1234567890123456",     # 16 digits: over E.164's 15
    "+1 555 123 456",        # +1 but only 9 national digits
    "+1 555 123 45678",      # +1 with 11 national digits
    "2-555-123-4567",        # 11 digits not starting with 1
    "123 456 7890",          # area code cannot start with 1
    "44 20 7946 0958",       # international without +
    "++15551234567", "1+5551234567", "+0 123 4567 890", "+",
    "+86 1391 2345 6789 0",  # 15 digits, but no Chinese number is that long
    "+44 20 7946",           # too short for a London number
    "+49 1512",              # too short for a German mobile
    "+1 555 123 4567\x00",   # control characters are never part of a number
    "+1 555 123 4567\u202e", "\ud800", "+1 " + "5" * 70,
])
def test_rejects(raw):
    with pytest.raises(InvalidPhone):
        to_e164(raw)


def test_numbers_without_a_plus_are_national_numbers_of_the_default_region():
    assert to_e164("020 7946 0958", default_region="GB") == "+442079460958"
    assert to_e164("+44 20 7946 0958", default_region="GB") == "+442079460958"
    assert to_e164("(416) 555-0100", default_region="CA") == "+14165550100"
    with pytest.raises(InvalidPhone):
        to_e164("020 7946 0958")  # not a US number


def test_display_format_for_people():
    assert for_people("+15551234567") == "(555) 123-4567"
    assert for_people("+442079460958") == "+44 20 7946 0958"
    assert for_people("+442079460958", region="GB") == "020 7946 0958"


def test_error_does_not_echo_the_number():
    with pytest.raises(InvalidPhone) as caught:
        to_e164("555 12")
    assert "555" not in caught.value.message


def test_is_e164_and_mask():
    assert is_e164("+15551234567") and not is_e164("5551234567") and not is_e164("+0123")
    assert mask_phone("+15551234567") == "***4567"
    assert mask_phone("") == "***"
    assert "555123" not in mask_phone("+1 (555) 123-4567")
