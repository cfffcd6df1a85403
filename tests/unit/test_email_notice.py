"""What a notification email says, and above all what it never says."""
from dataclasses import replace

from adapters.smtp_relay import SmtpRelay
from adapters.render.email_notice import NoticeFacts, compose, message_id

FACTS = NoticeFacts(notification_id="ev-1:bob", kind="inbound", conversation_id="c-42", to="bob@firm.test",
                    contact_names=(), phone="+15551234567")


def test_an_unknown_number_is_masked_to_its_last_four_digits():
    letter = compose(FACTS, "https://texts.example")
    assert letter.subject == "New text message from ***4567"
    assert "+15551234567" not in letter.body and "5551234567" not in letter.body
    assert "https://texts.example/v1/conversations/c-42" in letter.body


def test_a_known_contact_is_named_and_a_colleagues_text_says_who_sent_it():
    named = replace(FACTS, contact_names=("Jane Roe",))
    assert compose(named, "u").subject == "New text message from Jane Roe"
    firm = replace(FACTS, kind="firm_message", sender_name="Alice")
    assert compose(firm, "u").subject == "New text message to ***4567 from Alice"


def test_the_message_id_is_stable_per_row_so_a_rare_duplicate_can_be_dropped():
    assert message_id("ev-1:bob") == message_id("ev-1:bob") != message_id("ev-1:dave")
    msg = SmtpRelay("127.0.0.1", 1, "texts@firm.test").message(compose(FACTS, "u"))
    assert msg["Message-ID"] == message_id("ev-1:bob") and msg["From"] == "texts@firm.test"
