"""Chain verification on hand-built envelopes, and the log-versus-store comparison on the
in-memory event store: each kind of tampering is caught, at the right place."""
from __future__ import annotations

import asyncio
import io
import json
from uuid import NAMESPACE_URL, uuid5

from streams.audit import ChainVerifier
from streams.audit_store import compare_with_store, stored_envelopes
from domain.envelope import GENESIS, compute_hash, encode
from streams.log_dump import DumpFile, dump_header, write_dump
from streams.log_reader import LogRecord
from tests.unit.fakes import in_memory_texting

A, B = str(uuid5(NAMESPACE_URL, "a")), str(uuid5(NAMESPACE_URL, "b"))


def envelope(stream: str, version: int, nid: int, prev: str, body: str = "v1.sealed", firm: str = "f1") -> dict:
    env = {"event_id": str(uuid5(NAMESPACE_URL, f"{stream}/{version}")), "type": "Conversation.InboundReceived",
           "schema_version": 1, "firm_id": firm, "stream_id": stream, "stream_version": version,
           "notification_id": nid, "occurred_at": f"2024-06-03T14:0{version}:00+00:00", "prev_hash": prev,
           "data": {"message_id": f"m{nid}", "body_ct": body}}
    env["hash"] = compute_hash(env)
    return env


def two_streams() -> list[dict]:
    """A1 B1 A2 B2 A3: two interleaved chains of one firm."""
    a1 = envelope(A, 1, 1, GENESIS)
    b1 = envelope(B, 1, 2, GENESIS)
    a2 = envelope(A, 2, 3, a1["hash"])
    b2 = envelope(B, 2, 4, b1["hash"])
    a3 = envelope(A, 3, 5, a2["hash"])
    return [a1, b1, a2, b2, a3]


def records(envs: list[dict], partition: int = 0) -> list[LogRecord]:
    return [LogRecord(partition, offset, env["firm_id"], encode(env)) for offset, env in enumerate(envs)]


def verify(recs: list[LogRecord]) -> ChainVerifier:
    verifier = ChainVerifier()
    for rec in recs:
        if verifier.feed(rec):
            break
    return verifier


def test_a_clean_log_verifies_and_republished_copies_are_skipped():
    envs = two_streams()
    republished = envs + envs[2:4] + [envelope(B, 3, 6, envs[3]["hash"])]  # relay crashed before commit
    v = verify(records(republished))
    assert v.first_break is None
    assert (v.events, len(v.heads), v.duplicates) == (6, 2, 2)


def test_a_changed_byte_in_data_is_caught_where_it_is():
    recs = records(two_streams())
    recs[2] = LogRecord(0, 2, "f1", recs[2].value.replace(b"v1.sealed", b"v1.sealee"))
    found = verify(recs).first_break
    assert (found.partition, found.offset, found.stream_id, found.version) == (0, 2, A, 2)
    assert "does not match its hash" in str(found)


def test_a_removed_event_is_caught_at_the_next_one_of_its_stream():
    envs = two_streams()
    found = verify(records(envs[:2] + envs[3:])).first_break  # A2 removed
    assert (found.stream_id, found.version) == (A, 3)
    assert "expected version 2" in found.problem and "missing or out of order" in found.problem


def test_reordered_events_are_caught_within_a_stream_and_across_streams():
    a1, b1, a2, b2, a3 = two_streams()
    within = verify(records([a1, b1, a3, b2, a2])).first_break
    assert (within.stream_id, within.version) == (A, 3) and "expected version 2" in within.problem
    across = verify(records([a1, b1, b2, a2, a3])).first_break  # B2 (nid 4) before A2 (nid 3)
    assert (across.stream_id, across.version, across.offset) == (A, 2, 3)
    assert "out of order" in across.problem


def test_a_forged_hash_without_fixing_the_chain_is_caught_at_the_successor():
    envs = two_streams()
    forged = dict(envs[2], data={"message_id": "m3", "body_ct": "v1.other"})
    forged["hash"] = compute_hash(forged)
    found = verify(records([envs[0], envs[1], forged, envs[3], envs[4]])).first_break
    assert (found.offset, found.stream_id, found.version) == (4, A, 3)
    assert "prev_hash" in found.problem and "version 2 at partition 0 offset 2" in found.problem


def test_a_different_copy_of_a_version_and_a_bad_first_link_are_breaks():
    envs = two_streams()
    other = dict(envs[0], data={"message_id": "m1", "body_ct": "v1.changed"})
    other["hash"] = compute_hash(other)
    assert "different copy" in verify(records(envs + [other])).first_break.problem
    orphan = envelope(A, 1, 1, "f" * 64)
    assert "is not GENESIS" in verify(records([orphan])).first_break.problem


def test_a_record_that_is_no_envelope_or_is_keyed_to_another_firm_is_a_break():
    found = verify([LogRecord(3, 9, "f1", b"{not json")]).first_break
    assert (found.partition, found.offset) == (3, 9) and "not a firmtext event envelope" in found.problem
    misfiled = verify([LogRecord(0, 0, "f2", encode(envelope(A, 1, 1, GENESIS)))]).first_break
    assert "key 'f2' is not its firm_id 'f1'" in misfiled.problem


def _store():
    texting = in_memory_texting()
    texting.configure_firm("f1", "Law", "+15550001111")
    texting.receive_inbound("f1", "+15551112222", "SM1", "hello")
    texting.receive_inbound("f1", "+15551112222", "SM2", "STOP")
    return texting, list(stored_envelopes(texting))


def test_the_log_matches_the_store_with_lag_beyond_the_relayed_position():
    texting, stored = _store()
    last = stored[-1]["notification_id"]
    v = verify(records(stored[:-1]))
    assert v.first_break is None
    assert compare_with_store(v, iter(stored), last - 1).first_break is None
    assert compare_with_store(v, iter(stored), last - 1).lag == 1
    missing = compare_with_store(v, iter(stored), last).first_break
    assert f"notification {last} is in the event store but not in the log" in missing.problem


def test_a_forged_last_event_or_an_extra_event_differs_from_the_store():
    texting, stored = _store()
    forged = dict(stored[-1], occurred_at="2020-01-01T00:00:00+00:00")
    forged["hash"] = compute_hash(forged)  # the chain alone cannot see this: nothing follows it
    v = verify(records(stored[:-1] + [forged]))
    assert v.first_break is None
    found = compare_with_store(v, iter(stored), stored[-1]["notification_id"]).first_break
    assert "rebuilt from the event store" in found.problem and found.offset == len(stored) - 1
    extra = envelope(A, 1, 999, GENESIS)
    v = verify(records(stored + [extra]))
    found = compare_with_store(v, iter(stored), 10_000).first_break
    assert "notification 999 is in the log but not in the event store" in found.problem


def test_a_dump_round_trips_and_a_damaged_line_is_reported_by_number(tmp_path):
    out = io.StringIO()

    async def records_of(recs):
        for r in recs:
            yield r
    asyncio.run(write_dump(out, dump_header("t", {0: 5}, 5), records_of(records(two_streams()))))
    path = tmp_path / "log.jsonl"
    path.write_text(out.getvalue())

    async def read():
        return [r async for r in DumpFile(path).records()]
    assert verify(asyncio.run(read())).first_break is None
    lines = out.getvalue().splitlines()
    lines[3] = lines[3][:-5]
    path.write_text("\n".join(lines) + "\n")
    found = verify(asyncio.run(read())).first_break
    assert found.line == 4 and "not a log record" in str(found)
    assert json.loads(lines[0])["relay_position"] == 5


def test_a_measured_envelope_is_never_smaller_than_the_published_one():
    from domain.envelope import build_envelope, encode, envelope_size
    from tests.unit.fakes import in_memory_texting

    texting = in_memory_texting()
    texting.receive_inbound("firm-m", "+15551230009", "SM-m", "héllo ✓ " * 50)
    for n in texting.recorder.select_notifications(start=1, limit=10):
        event = texting.mapper.to_domain_event(n)
        published = len(encode(build_envelope(domain_event=event, notification_id=n.id,
                                              firm_id="firm-m", prev_hash="f" * 64)))
        assert published <= envelope_size(event, "firm-m") <= published + 20
