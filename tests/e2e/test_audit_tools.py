"""The auditor's tools against the real stack, run as an operator runs them: `firmtext
replay`, `firmtext audit verify|dump` and `firmtext export` as subprocesses."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from domain.envelope import compute_hash
from tests.e2e.harness import Firm, eventually

ROOT = Path(__file__).resolve().parents[2]
CLIENT, BLOCKED_CLIENT = "+15557310001", "+15557310002"


async def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.as_env()}
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "firmtext", *args], env=env, cwd=ROOT,
                                   capture_output=True, text=True, timeout=180)


@dataclass
class Story:
    firm: Firm
    conversation_id: str


@pytest.fixture(scope="module")
async def story(running):
    """A client texts, alice replies (delivered), the client texts STOP and then START."""
    async with httpx.AsyncClient(base_url=running.settings.public_url, timeout=30) as http:
        firm = await Firm(running.settings, http).setup()
        await firm.text_in(CLIENT, "Is my hearing on Monday?")
        conv = await firm.conversation_with(CLIENT)
        r = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages", json={"body": "Yes, 9am."})
        assert r.status_code == 202, r.text

        async def delivered():
            return any(m["status"] == "delivered" for m in await firm.messages(conv["id"]))
        await eventually(delivered, timeout=30)
        for word, opted_out in (("STOP", True), ("START", False)):
            await firm.text_in(CLIENT, word)

            async def consent_is(expected=opted_out):
                found = [c for c in await firm.inbox() if c["id"] == conv["id"]]
                return found and found[0]["opted_out"] is expected
            await eventually(consent_is)  # the projection read it from Kafka: it is in the log
        yield Story(firm, conv["id"])


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_replay_shows_the_events_decrypted_and_the_consent_as_of_a_moment(story, settings):
    firm = story.firm
    r = await cli(settings, "replay", "--firm", firm.firm_id, "--number", CLIENT)
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    assert {e["stream_id"] for e in events} == {story.conversation_id}
    bodies = [e["data"]["body"] for e in events if "body" in e["data"]]
    assert bodies == ["Is my hearing on Monday?", "Yes, 9am.", "STOP", "START"]
    assert next(e for e in events if e["type"] == "Conversation.Started")["data"]["phone"] == CLIENT
    assert all("body_ct" not in e["data"] for e in events)

    at = {e["type"]: datetime.fromisoformat(e["occurred_at"]) for e in events}
    between = at["Conversation.OptedOut"] + (at["Conversation.OptedIn"] - at["Conversation.OptedOut"]) / 2
    r = await cli(settings, "replay", "--firm", firm.firm_id, "--number", CLIENT, "--as-of", between.isoformat())
    assert r.returncode == 0, r.stderr
    state = json.loads(r.stdout)
    assert state["opted_out"] is True and [c["change"] for c in state["consent"]["history"]] == ["opted_out"]
    assert [m["body"] for m in state["messages"]] == ["Is my hearing on Monday?", "Yes, 9am.", "STOP"]
    assert state["messages"][1]["status"] == "delivered" and state["participants"] == ["alice"]
    r = await cli(settings, "replay", "--conversation", story.conversation_id, "--format", "table")
    assert r.returncode == 0 and "Conversation.OptedIn" in r.stdout and "'Yes, 9am.'" in r.stdout


def tamper(lines: list[str], how: str, conversation_id: str) -> list[str]:
    """A copy of the dump's lines, tampered ``how`` within the conversation's stream."""
    ours = [i for i, line in enumerate(lines[1:], start=1)
            if json.loads(line).get("envelope", {}).get("stream_id") == conversation_id]
    first_copy = {}
    for i in ours:  # the first copy of each version (the relay may have republished some)
        first_copy.setdefault(json.loads(lines[i])["envelope"]["stream_version"], i)
    inbound, reply = first_copy[2], first_copy[3]  # Started is version 1
    out = list(lines)
    if how == "changed byte":
        out[inbound] = out[inbound].replace('"body_ct":"v1.', '"body_ct":"v1.X', 1).replace(
            '"body_ct": "v1.', '"body_ct": "v1.X', 1)
    elif how == "removed":
        del out[reply]
    elif how == "reordered":
        out[inbound], out[reply] = out[reply], out[inbound]
    elif how == "forged hash":
        line = json.loads(out[inbound])
        line["envelope"]["data"]["body_ct"] = "v1.forged"
        line["envelope"]["hash"] = compute_hash(line["envelope"])
        out[inbound] = json.dumps(line)
    return out


EXPECTED = {"changed byte": "does not match its hash", "removed": "expected version 3 of this stream here, found 4",
            "reordered": "expected version 2 of this stream here, found 3",
            "forged hash": "prev_hash"}


async def test_verify_passes_on_the_log_and_a_dump_and_catches_each_tampering(story, settings, tmp_path):
    r = await cli(settings, "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("OK: ") and "lag" in r.stdout
    dump = tmp_path / "log.jsonl"
    r = await cli(settings, "audit", "dump", "--out", str(dump))
    assert r.returncode == 0, r.stderr
    r = await cli(settings, "audit", "verify", "--log-file", str(dump), "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True
    lines = dump.read_text().splitlines()
    for how, expected in EXPECTED.items():
        copy = tmp_path / f"{how.replace(' ', '-')}.jsonl"
        copy.write_text("\n".join(tamper(lines, how, story.conversation_id)) + "\n")
        r = await cli(settings, "audit", "verify", "--log-file", str(copy), "--no-store")
        assert r.returncode == 1, (how, r.stdout, r.stderr)
        assert r.stdout.startswith("BROKEN: partition ") and f"stream {story.conversation_id}" in r.stdout, r.stdout
        assert expected in r.stdout, (how, r.stdout)


async def test_export_writes_a_transcript_whose_hashes_match_the_log(story, settings, tmp_path):
    r = await cli(settings, "export", "conversation", story.conversation_id, "--firm", story.firm.firm_id,
                  "--out", str(tmp_path / "evidence"))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "evidence" / f"conversation-{story.conversation_id}.json").read_text())
    html = (tmp_path / "evidence" / f"conversation-{story.conversation_id}.html").read_text()
    assert doc["chain"]["verified"] and doc["conversation"]["phone"] == CLIENT
    r = await cli(settings, "audit", "dump", "--out", str(tmp_path / "log.jsonl"))
    log = {line["envelope"]["event_id"]: line for line in jsonl((tmp_path / "log.jsonl").read_text())[1:]}
    refs = [m["recorded_by"] for m in doc["messages"]] + [s["event"] for m in doc["messages"] for s in m["statuses"]]
    refs += [c["event"] for c in doc["conversation"]["consent_history"]]
    assert len(refs) >= 8
    for ref in refs:
        line = log[ref["event_id"]]
        assert ref["hash"] == line["envelope"]["hash"] == compute_hash(line["envelope"])
        assert (ref["notification_id"], ref["partition"], ref["offset"]) == (
            line["envelope"]["notification_id"], line["partition"], line["offset"])
        assert ref["hash"] in html
    assert [m["body"] for m in doc["messages"]] == ["Is my hearing on Monday?", "Yes, 9am.", "STOP", "START"]
    assert [s["status"] for s in doc["messages"][1]["statuses"]][-1] == "delivered"


async def test_after_a_block_replay_shows_shredded_and_verify_still_passes(story, settings):
    firm = story.firm
    await firm.text_in(BLOCKED_CLIENT, "please stop texting me, secret-9c1")
    conv = await firm.conversation_with(BLOCKED_CLIENT)
    r = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/block")
    assert r.status_code == 200, r.text

    async def relayed():
        out = await cli(settings, "replay", "--conversation", conv["id"])
        events = jsonl(out.stdout)
        return events if any(e["type"] == "Conversation.Blocked" for e in events) else None
    events = await eventually(relayed, timeout=60, interval=1)
    sealed = [v for e in events for k, v in e["data"].items() if k in ("body", "phone")]
    assert sealed and set(sealed) == {"<shredded>"}
    assert "secret-9c1" not in json.dumps(events) and BLOCKED_CLIENT not in json.dumps(events)
    r = await cli(settings, "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
