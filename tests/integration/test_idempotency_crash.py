"""An API process SIGKILLed in the middle of a request with an Idempotency-Key: the client's
retry with the same key learns the real outcome (never a 409 for ever), and nothing is doubled.

The request runs in a child process whose event store kills the process with SIGKILL just
before, or just after, the request's events are stored; the retry then goes to a fresh API.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.auth import issue_token
from adapters.http.app import create_app
from tests.integration.test_sending_lanes import container  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent("""
    import os, signal, sys
    from eventsourcing.postgres import PostgresApplicationRecorder
    from fastapi.testclient import TestClient
    from adapters.http.app import create_app
    from firmtext.bootstrap import Container
    from firmtext.config import Settings

    moment, path, token, key = sys.argv[1:5]
    insert = PostgresApplicationRecorder.insert_events

    def insert_then_die(self, stored_events, **kwargs):
        sending = any("OutboundRequested" in e.topic for e in stored_events)
        if sending and moment == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        ids = insert(self, stored_events, **kwargs)
        if sending:
            os.kill(os.getpid(), signal.SIGKILL)  # committed; the answer never reaches the client
        return ids

    PostgresApplicationRecorder.insert_events = insert_then_die
    client = TestClient(create_app(Container(Settings.from_env(), pool_size=2)))
    client.post(path, json={"body": "sent once"}, headers={"Authorization": "Bearer " + token, "Idempotency-Key": key})
    print("the request finished: it should have been killed")
""")


def _outbound_requested(texting) -> list[str]:
    return [n.topic for n in texting.recorder.select_notifications(start=1, limit=1000) if "OutboundRequested" in n.topic]


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_retry_after_the_api_died_mid_request_gets_the_real_answer(container, moment):
    texting = container.texting
    texting.configure_firm("firm-crash", "Crash Law", "+15556660000")
    conv, _ = texting.open_conversation("firm-crash", "+15556660001", "alice")
    token = issue_token(container.settings.jwt_secret, "firm-crash", "alice", ["texting"])
    path, key = f"/v1/conversations/{conv.id}/messages", uuid.uuid4().hex
    child = subprocess.run([sys.executable, "-c", CHILD, moment, path, token, key], cwd=ROOT, timeout=120,
                           env={**os.environ, **container.settings.as_env()}, capture_output=True, text=True)
    assert child.returncode == -9, child.stdout + child.stderr  # SIGKILL, mid-request
    stored_by_the_dead = len(_outbound_requested(texting))
    assert stored_by_the_dead == (1 if moment == "after" else 0)

    retry = TestClient(create_app(container)).post(
        path, json={"body": "sent once"}, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
    assert retry.status_code == 202, retry.text  # the outcome, not 409 request_in_progress
    assert retry.json()["message"]["body"] == "sent once"
    assert retry.headers.get("Idempotent-Replayed") == ("true" if moment == "after" else None)
    assert len(_outbound_requested(texting)) == 1  # kept once, whichever instant the process died at
    again = TestClient(create_app(container)).post(
        path, json={"body": "sent once"}, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
    assert again.json() == retry.json() and len(_outbound_requested(texting)) == 1
