"""Replay's decoding and the as-of fold, on real events from the in-memory event store."""
from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from streams.audit_store import stored_envelopes
from domain.envelope import encode
from streams.export import firm_facts, transcript
from adapters.render.export_html import render_html
from domain.envelope import parse_time
from projections.history import conversation_at
from streams.log_reader import LogRecord
from streams.replay import SHREDDED, ReplayFilter, decoded
from adapters.render.replay_view import state_lines, table_row
from tests.unit.fakes import in_memory_texting

CLIENT = "+15551112222"


def story():
    """A client texts, alice replies (delivered), the client texts STOP, then START."""
    texting = in_memory_texting()
    texting.configure_firm("f1", "Archer LLP", "+15550001111")
    texting.sync_user("f1", "alice", "Alice Archer", None, ["texting"], "none", "none")
    texting.sync_contact("f1", "c1", "Pat Client", "client", [CLIENT])
    conv_id = texting.receive_inbound("f1", CLIENT, "SM1", "Is my hearing <Monday>?").conversation_id
    sent = texting.request_outbound("f1", conv_id, "alice", "Yes, 9am.")
    texting.record_dispatch(conv_id, sent["id"], "SMx", "queued")
    texting.record_status(conv_id, sent["id"], "delivered")
    texting.receive_inbound("f1", CLIENT, "SM2", "STOP")
    texting.receive_inbound("f1", CLIENT, "SM3", "START")
    texting.mute("f1", conv_id, "alice")
    return texting, str(conv_id)


def decode_all(texting) -> list[dict]:
    envs = list(stored_envelopes(texting))
    return [decoded(LogRecord(0, i, e["firm_id"], encode(e)), e, texting.sealer.open) for i, e in enumerate(envs)]


def test_sealed_fields_are_opened_and_read_shredded_once_the_key_is_gone():
    texting, conv_id = story()
    events = decode_all(texting)
    inbound = next(e for e in events if e["type"] == "Conversation.InboundReceived")
    assert inbound["data"]["body"] == "Is my hearing <Monday>?" and "body_ct" not in inbound["data"]
    started = next(e for e in events if e["type"] == "Conversation.Started")
    assert started["data"]["phone"] == CLIENT
    contact = next(e for e in events if e["type"] == "Contact.Synced")
    assert contact["data"]["phones"] == [CLIENT]  # sealed under the firm's directory key
    texting.block("f1", UUID(conv_id), "alice")
    after = [e for e in decode_all(texting) if e["stream_id"] == conv_id]
    assert {e["data"].get("body", SHREDDED) for e in after} == {SHREDDED}
    assert next(e for e in after if e["type"] == "Conversation.Started")["data"]["phone"] == SHREDDED
    # Shredding changes what can be read, never the envelope: the hashes are the same.
    assert [e["hash"] for e in after[:-1]] == [e["hash"] for e in events if e["stream_id"] == conv_id]


def test_the_fold_shows_the_conversation_as_it_stood_between_stop_and_start():
    texting, conv_id = story()
    events = decode_all(texting)
    at = {e["type"]: parse_time(e["occurred_at"]) for e in events}
    between = conversation_at(events, conv_id, at["Conversation.OptedOut"])
    assert between["opted_out"] is True and between["consent"]["opted_out"] is True
    assert [c["change"] for c in between["consent"]["history"]] == ["opted_out"]
    assert [m["body"] for m in between["messages"]] == ["Is my hearing <Monday>?", "Yes, 9am.", "STOP"]
    assert between["participants"] == ["alice"] and between["muted"] == []
    now = conversation_at(events, conv_id)
    assert now["opted_out"] is False and now["muted"] == ["alice"]
    assert [c["change"] for c in now["consent"]["history"]] == ["opted_out", "opted_in"]
    reply = now["messages"][1]
    assert [s["status"] for s in reply["statuses"]] == ["queued", "delivered"]
    assert reply["statuses"][-1]["event"]["hash"] and reply["recorded_by"]["notification_id"]
    assert conversation_at(events, conv_id, at["Conversation.Started"] - timedelta(seconds=1)) is None
    delivered_at = at["Conversation.MessageStatusChanged"]
    before_delivery = conversation_at(events, conv_id, delivered_at - timedelta(microseconds=1))
    assert before_delivery["messages"][1]["status"] == "queued"
    assert any("opted_out via keyword (STOP)" in line for line in state_lines(now))


def test_filters_and_table_rows():
    texting, conv_id = story()
    events = decode_all(texting)
    only = [e for e in events if ReplayFilter(firm="f1", stream=conv_id).matches(e)]
    assert only and all(e["stream_id"] == conv_id for e in only)
    first = parse_time(only[0]["occurred_at"])
    assert not ReplayFilter(until=first - timedelta(seconds=1)).matches(only[0])
    assert not ReplayFilter(firm="other").matches(only[0])
    row = table_row(next(e for e in only if e["type"] == "Conversation.OutboundRequested"))
    assert "by alice" in row and "'Yes, 9am.'" in row
    assert parse_time("2024-06-03").tzinfo is not None


def test_the_transcript_names_every_event_and_its_html_escapes_client_text():
    texting, conv_id = story()
    events = decode_all(texting)
    chain = [e for e in events if e["stream_id"] == conv_id]
    firm, users = firm_facts(events, "f1")
    doc = transcript(conversation_at(chain, conv_id), chain, None, firm, users, {"topic": "t"})
    assert firm["name"] == "Archer LLP" and doc["messages"][1]["sender_name"] == "Alice Archer"
    hashes = {e["event_id"]: e["hash"] for e in chain}
    for m in doc["messages"]:
        assert hashes[m["recorded_by"]["event_id"]] == m["recorded_by"]["hash"]
        assert all(hashes[s["event"]["event_id"]] == s["event"]["hash"] for s in m["statuses"])
    assert len(doc["chain"]["events"]) == len(chain)
    page = render_html(doc)
    assert "&lt;Monday&gt;" in page and "<Monday>" not in page
    assert "Handed to the carrier" in page and "SMx" in page
    assert "How to check this transcript" in page and doc["chain"]["events"][0]["hash"] in page


def test_replay_opens_sealed_fields_nested_in_media():
    from streams.replay import SHREDDED, open_data

    env = {"type": "Conversation.InboundReceived", "firm_id": "f", "stream_id": "s",
           "data": {"body_ct": "b", "media": [{"id": "m1", "size": 3, "sha256_ct": "h"}]}}
    opened = open_data(env, lambda scope, ct: {"b": "hello", "h": "abc123"}.get(ct))
    assert opened == {"body": "hello", "media": [{"id": "m1", "size": 3, "sha256": "abc123"}]}
    shredded = open_data(env, lambda scope, ct: None)
    assert shredded["media"][0]["sha256"] == SHREDDED
