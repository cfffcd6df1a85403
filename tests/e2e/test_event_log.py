"""The event log as a non-Python consumer sees it: Debian's kcat reads firmtext.events,
and every envelope carries the documented fields with sealed sensitive data."""
import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from domain.envelope import ENVELOPE_FIELDS, compute_hash
from tests.e2e.harness import eventually

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def kcat_read(settings) -> list[dict]:
    out = subprocess.run(
        ["kcat", "-C", "-b", settings.kafka_bootstrap, "-t", settings.events_topic, "-o", "beginning", "-e",
         "-q", "-f", "%k\t%p\t%o\t%s\n"], capture_output=True, text=True, timeout=60, check=True).stdout
    records = []
    for line in out.splitlines():
        key, partition, offset, value = line.split("\t", 3)
        records.append({"key": key, "partition": int(partition), "offset": int(offset), "envelope": json.loads(value)})
    return records


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is installed by scripts/bootstrap.sh")
async def test_kcat_reads_documented_envelopes(firm, settings):
    secret = "kcat-marker-7f3a"
    await firm.text_in("+15557770001", f"text with {secret}")
    conv = await firm.conversation_with("+15557770001")
    await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages", json={"body": "reply"})

    async def ours():
        records = await asyncio.to_thread(kcat_read, settings)
        mine = [r for r in records if r["envelope"]["firm_id"] == firm.firm_id]
        types = {r["envelope"]["type"] for r in mine}
        return mine if {"Conversation.InboundReceived", "Conversation.OutboundRequested"} <= types else None
    mine = await eventually(ours, timeout=30, interval=0.5)

    documented = set(re.findall(r"^### `([A-Za-z]+\.[A-Za-z]+)`", DOCS.read_text(), re.M))
    for record in mine:
        env = record["envelope"]
        assert set(ENVELOPE_FIELDS) <= set(env), env
        assert record["key"] == firm.firm_id  # keyed by firm: one partition holds a firm's history
        assert env["hash"] == compute_hash(env)
        assert env["type"] in documented, f"{env['type']} is not documented in docs/events.md"
        assert secret not in json.dumps(env) and "+15557770001" not in json.dumps(env)
    assert len({r["partition"] for r in mine}) == 1
