"""Twilio's request signature, checked against the example in Twilio's webhook security guide."""
import base64
import hashlib
import hmac

from starlette.datastructures import FormData

from adapters.twilio_signature import compute_signature, is_valid_signature

# Twilio's published worked example (auth token "12345").
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
EXPECTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_matches_twilios_published_example():
    assert compute_signature(TOKEN, URL, PARAMS) == EXPECTED
    assert is_valid_signature(TOKEN, URL, PARAMS, EXPECTED)


def test_parameter_order_does_not_matter():
    shuffled = dict(reversed(list(PARAMS.items())))
    assert compute_signature(TOKEN, URL, shuffled) == EXPECTED


def test_repeated_values_are_sorted_and_all_signed():
    payload = "https://x.test/hook" + "MediaUrla" + "MediaUrlb" + "To+1"
    expected = base64.b64encode(hmac.new(b"k", payload.encode(), hashlib.sha1).digest()).decode()
    assert compute_signature("k", "https://x.test/hook", {"To": "+1", "MediaUrl": ["b", "a"]}) == expected
    form = FormData([("MediaUrl", "b"), ("To", "+1"), ("MediaUrl", "a")])
    assert compute_signature("k", "https://x.test/hook", form) == expected


def test_no_params_signs_the_url_alone():
    expected = base64.b64encode(hmac.new(b"k", b"https://x.test/v", hashlib.sha1).digest()).decode()
    assert compute_signature("k", "https://x.test/v", {}) == expected


def test_tampering_is_detected():
    assert not is_valid_signature(TOKEN, URL, {**PARAMS, "Digits": "9999"}, EXPECTED)
    assert not is_valid_signature(TOKEN, URL.replace("bar=2", "bar=3"), PARAMS, EXPECTED)
    assert not is_valid_signature("other", URL, PARAMS, EXPECTED)
    assert not is_valid_signature(TOKEN, URL, PARAMS, EXPECTED[:-2])
    assert not is_valid_signature(TOKEN, URL, PARAMS, "")
    assert not is_valid_signature(TOKEN, URL, PARAMS, None)
    assert not is_valid_signature("", URL, PARAMS, compute_signature("", URL, PARAMS))


def test_a_default_port_in_either_url_is_tolerated_like_twilios_sdks():
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert is_valid_signature(TOKEN, with_port, PARAMS, EXPECTED)
    signed_with_port = compute_signature(TOKEN, with_port, PARAMS)
    assert is_valid_signature(TOKEN, URL, PARAMS, signed_with_port)


def test_unicode_values_are_signed_as_utf8():
    sig = compute_signature("k", "http://127.0.0.1:8000/webhooks/twilio/messages", {"Body": "¿Qué tal? 😀"})
    assert is_valid_signature("k", "http://127.0.0.1:8000/webhooks/twilio/messages", {"Body": "¿Qué tal? 😀"}, sig)
    assert not is_valid_signature("k", "http://127.0.0.1:8000/webhooks/twilio/messages", {"Body": "Que tal"}, sig)
