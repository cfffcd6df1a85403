"""The input policy's pure rules (docs/input-policy.md), the structural ids and the signed cursors."""
import pytest

from adapters.auth import Unauthenticated, caller_from_token, issue_token
from adapters.http.errors import ApiError
from adapters.http.fields import check_email, check_zone
from adapters.http.paging import Cursors
from domain.ids import case_id_of, contact_id_of, structural_key, user_id_of
from domain.input_policy import (MAX_INBOUND_BODY_CHARS, InputRefused, check_id, check_line, check_name, check_text,
                                 is_id)

KEPT = ["Ann O'Brien", "José Ñúñez", "محمد \u200f(client)", "👩‍⚖️ Judge",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀋", "ﬁ", "\ufeffBOM"]


@pytest.mark.parametrize("value", KEPT)
def test_names_people_write_are_kept_as_written(value):
    assert check_name(value) is value


@pytest.mark.parametrize("value", ["Nul\x00Name", "two\nlines", "tab\tbed", "cr\r", "esc\x1b[31m", "del\x7f",
                                   "c1\x85", "sep\u2028", "lone \ud800 surrogate", "\udfff", " ", ""])
def test_names_refuse_controls_surrogates_and_blanks(value):
    with pytest.raises(InputRefused) as refused:
        check_name(value)
    assert value.strip() == "" or value not in refused.value.message  # never echoes the value


def test_free_text_allows_what_people_type_and_nothing_else():
    assert check_text("Line one\r\n\tline two 😀", max_chars=1600)
    for bad in ("\x00", "\x07", "\ud83d", "\x1b"):
        with pytest.raises(InputRefused):
            check_text(f"before{bad}after")
    with pytest.raises(InputRefused, match="limit is 1600"):
        check_text("x" * 1601, max_chars=1600)
    assert MAX_INBOUND_BODY_CHARS >= 1600  # Twilio's inbound maximum always fits


def test_lines_cap_their_length():
    check_line("x" * 255, max_chars=255)
    with pytest.raises(InputRefused):
        check_line("x" * 256, max_chars=255)


@pytest.mark.parametrize("value", ["firm-0a1b2c3d4e", "ann", "c-1", "A.B_c~d", "x" * 128, "0", "a.."])
def test_ids_in_the_grammar(value):
    assert check_id(value) == value and is_id(value)


@pytest.mark.parametrize("value", ["", "x" * 129, "F:x", "x:kc", "a/b", "a b", "é", "a\x00", ".", "..", "%41",
                                   "\ud800", 5, None])
def test_ids_outside_the_grammar(value):
    assert not is_id(value)
    with pytest.raises(InputRefused):
        check_id(value)


def test_structural_keys_never_collide_where_joined_strings_did():
    assert contact_id_of("F:x", "kc") != contact_id_of("F", "x:kc")
    assert user_id_of("F:x", "kc") != user_id_of("F", "x:kc")
    assert case_id_of("a", "b:c") != case_id_of("a:b", "c")
    assert structural_key("a\ud800", "b") == '["a\\ud800","b"]'  # encodable whatever the parts hold
    assert contact_id_of("F", "kc") == contact_id_of("F", "kc")  # still deterministic


@pytest.mark.parametrize("value", ["alice@firm.test", "a.b+tag@sub.example.co.uk", "O'Hara@law.example"])
def test_emails_accepted_as_typed(value):
    assert check_email(value) == value


@pytest.mark.parametrize("value", ["evil@x.test\r\nBcc: spy@x.test", "Alice <alice@firm.test>", "no-at-sign",
                                   "a@b", '"quoted"@firm.test', "user@[127.0.0.1]", "x" * 65 + "@firm.test",
                                   "a@" + "b" * 250 + ".test", "nul\x00@firm.test", "ü@firm.test", "a@b.test\u2028"])
def test_emails_refused(value):
    with pytest.raises(InputRefused):
        check_email(value)


def test_time_zones():
    assert check_zone("America/New_York") == "America/New_York"
    for bad in ("Mars/Olympus", "../../etc/passwd", "UTC\x00", "/etc/localtime", ""):
        with pytest.raises(InputRefused):
            check_zone(bad)


def test_jwt_firm_and_sub_claims_follow_the_id_grammar():
    assert caller_from_token("s", issue_token("s", "firm-1", "alice", ["texting"])).firm_id == "firm-1"
    for firm, user in (("F:x", "alice"), ("firm", "a\nb"), ("", "alice"), ("x" * 129, "alice")):
        with pytest.raises(Unauthenticated):
            caller_from_token("s", issue_token("s", firm, user, ["texting"]))


def test_cursors_round_trip_and_refuse_anything_we_did_not_issue():
    inbox = Cursors("secret", "firm-a", "inbox")
    token = inbox.issue("2026-01-01T00:00:00+00:00", "c1")
    assert inbox.read(token, str, str) == ["2026-01-01T00:00:00+00:00", "c1"]
    assert inbox.read(None, str, str) is None
    payload, mac = token.split(".")
    forged = [
        Cursors("secret", "firm-b", "inbox").issue("2026-01-01T00:00:00+00:00", "c1"),  # another firm's
        Cursors("secret", "firm-a", "contacts").issue("2026-01-01T00:00:00+00:00", "c1"),  # another endpoint's
        Cursors("other secret", "firm-a", "inbox").issue("2026-01-01T00:00:00+00:00", "c1"),
        payload + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"),
        "W1tdLCB7fV0", "W1tdLCB7fV0.", "bogus!", "." * 3000, "²", token + "x",
    ]
    for cursor in forged:
        with pytest.raises(ApiError) as refused:
            inbox.read(cursor, str, str)
        assert (refused.value.status, refused.value.code) == (422, "invalid_cursor")
    with pytest.raises(ApiError):  # ours, but not the shape this endpoint reads
        Cursors("secret", "firm-a", "messages").read(Cursors("secret", "firm-a", "messages").issue("7"), int)
    with pytest.raises(ApiError):
        Cursors("secret", "firm-a", "messages").read(Cursors("secret", "firm-a", "messages").issue(True), int)
