"""Parsing Twilio's inbound and status-callback forms, and forward-only statuses."""
import pytest

from adapters.twilio_webhooks import (
    STATUS_RANK, InboundText, MediaRef, StatusUpdate, WebhookInvalid, is_forward, parse_inbound, parse_status)

SM = "SM" + "a1" * 16
MM = "MM" + "0f" * 16


def inbound(**overrides):
    form = {"MessageSid": SM, "AccountSid": "AC" + "0" * 32, "From": "+15557654321",
            "To": "+15550000000", "Body": "Hello", "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_parses_an_sms():
    text = parse_inbound(inbound())
    assert text == InboundText(
        message_sid=SM, from_number="+15557654321", to_number="+15550000000", body="Hello",
        media=[], num_media=0,
        extra={"AccountSid": "AC" + "0" * 32, "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"})


def test_parses_an_mms_with_media_in_order():
    text = parse_inbound(inbound(MessageSid=MM, Body="", NumMedia="2",
                                 MediaUrl0="https://api.twilio.com/m/0", MediaContentType0="image/jpeg",
                                 MediaUrl1="https://api.twilio.com/m/1"))
    assert text.body == "" and text.num_media == 2
    assert text.media == [MediaRef("https://api.twilio.com/m/0", "image/jpeg"),
                          MediaRef("https://api.twilio.com/m/1", "application/octet-stream")]
    assert not any(k.startswith("Media") for k in text.extra)


def test_more_than_ten_media_stay_parseable():
    media = {f"MediaUrl{i}": f"https://api.twilio.com/m/{i}" for i in range(12)}
    text = parse_inbound(inbound(NumMedia="12", **media))
    assert text.num_media == 12 and len(text.media) == 12


def test_missing_body_is_empty_and_whitespace_is_kept():
    assert parse_inbound(inbound(Body=None)).body == ""
    assert parse_inbound(inbound(Body="  hi  ")).body == "  hi  "


@pytest.mark.parametrize("overrides", [
    {"MessageSid": None}, {"MessageSid": ""}, {"MessageSid": "SM123"}, {"MessageSid": "XX" + "a" * 32},
    {"MessageSid": SM + "0"}, {"MessageSid": "SM" + "g" * 32},
    {"From": None}, {"From": " "}, {"To": None},
    {"NumMedia": "two"}, {"NumMedia": "-1"}, {"NumMedia": "1.5"}, {"NumMedia": "²"},
    {"NumMedia": "1"},  # no MediaUrl0
])
def test_rejects_malformed_inbound(overrides):
    with pytest.raises(WebhookInvalid):
        parse_inbound(inbound(**overrides))


def test_parses_status_callbacks():
    assert parse_status({"MessageSid": SM, "MessageStatus": "delivered"}) == StatusUpdate(SM, "delivered", None)
    assert parse_status({"MessageSid": SM, "MessageStatus": "undelivered", "ErrorCode": "30003"}).error_code == 30003
    assert parse_status({"MessageSid": SM, "SmsStatus": "Sent", "ErrorCode": ""}) == StatusUpdate(SM, "sent", None)


@pytest.mark.parametrize("form", [
    {"MessageStatus": "sent"},
    {"MessageSid": "nope", "MessageStatus": "sent"},
    {"MessageSid": SM},
    {"MessageSid": SM, "MessageStatus": "teleported"},
    {"MessageSid": SM, "MessageStatus": "failed", "ErrorCode": "E30008"},
])
def test_rejects_malformed_status(form):
    with pytest.raises(WebhookInvalid):
        parse_status(form)


def test_status_rank_covers_twilios_statuses():
    assert set(STATUS_RANK) == {"accepted", "scheduled", "queued", "sending", "sent", "receiving", "received",
                                "delivered", "undelivered", "failed", "read", "canceled"}


@pytest.mark.parametrize("current, new, forward", [
    (None, "sent", True), ("queued", "sent", True), ("sent", "delivered", True),
    ("queued", "delivered", True), ("sent", "undelivered", True), ("queued", "failed", True),
    ("delivered", "read", False), ("scheduled", "canceled", True), ("accepted", "queued", True),
    ("delivered", "sent", False), ("sent", "queued", False), ("sent", "sent", False),
    ("delivered", "failed", False), ("delivered", "undelivered", False),
    ("failed", "delivered", False), ("undelivered", "delivered", False), ("undelivered", "read", False),
    ("failed", "undelivered", False), ("read", "delivered", False), ("canceled", "sent", False),
])
def test_statuses_only_move_forward(current, new, forward):
    assert is_forward(current, new) is forward


def test_unknown_status_is_an_error():
    with pytest.raises(ValueError):
        is_forward("sent", "teleported")
    with pytest.raises(ValueError):
        is_forward("teleported", "sent")
