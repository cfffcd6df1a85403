"""Normalising typed phone numbers to E.164."""
import pytest

from adapters.phone import InvalidPhone, is_e164, mask_phone, to_e164


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
    ("+86 1391 2345 6789 0", "+861391234567890"),  # 15 digits: the E.164 maximum
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
])
def test_rejects(raw):
    with pytest.raises(InvalidPhone):
        to_e164(raw)


def test_other_default_regions_need_a_plus():
    with pytest.raises(InvalidPhone):
        to_e164("020 7946 0958", default_region="GB")
    assert to_e164("+44 20 7946 0958", default_region="GB") == "+442079460958"
    assert to_e164("(416) 555-0100", default_region="CA") == "+14165550100"


def test_error_does_not_echo_the_number():
    with pytest.raises(InvalidPhone) as caught:
        to_e164("555 12")
    assert "555" not in caught.value.message


def test_is_e164_and_mask():
    assert is_e164("+15551234567") and not is_e164("5551234567") and not is_e164("+0123")
    assert mask_phone("+15551234567") == "***4567"
    assert mask_phone("") == "***"
    assert "555123" not in mask_phone("+1 (555) 123-4567")
