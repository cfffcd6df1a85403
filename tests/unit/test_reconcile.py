"""Which carrier record is an interrupted send (streams/reconcile.py)."""
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from streams.reconcile import interrupted_send

CLAIMED = datetime(2026, 12, 1, 20, 0, 0, tzinfo=timezone.utc)


def message(sid: str, body: str, seconds_after_claim: float, direction: str = "outbound-api") -> dict:
    created = format_datetime(CLAIMED + timedelta(seconds=seconds_after_claim))
    return {"sid": sid, "body": body, "date_created": created, "direction": direction, "status": "queued"}


def test_the_same_body_created_since_the_claim_is_the_interrupted_send():
    listing = [message("SM3", "See you at 9", 2), message("SM2", "See you at 9", 1), message("SM1", "Other", 1)]
    assert interrupted_send(listing, "See you at 9", CLAIMED, set(), 120)["sid"] == "SM2"  # the earliest


def test_a_text_already_recorded_for_another_message_is_never_taken():
    listing = [message("SM1", "OK", 0)]
    assert interrupted_send(listing, "OK", CLAIMED, {"SM1"}, 120) is None


def test_older_texts_inbound_texts_and_other_bodies_do_not_match():
    listing = [message("SM1", "OK", -600), message("SM2", "OK", 5, direction="inbound"), message("SM3", "OK!", 5),
               {"sid": "SM4", "body": "OK", "date_created": None}]
    assert interrupted_send(listing, "OK", CLAIMED, set(), 120) is None


def test_clock_slack_lets_a_carrier_clock_behind_ours_still_match():
    assert interrupted_send([message("SM1", "OK", -30)], "OK", CLAIMED, set(), 120)["sid"] == "SM1"
    assert interrupted_send([message("SM1", "OK", -30)], "OK", CLAIMED, set(), 10) is None
