"""schemathesis against the live stack: every operation of /openapi.json, with generated
valid and invalid input, must never answer 5xx and never answer anything the document does
not declare (status, content type, body shape, headers, 405 with ``Allow``).

It runs as one firm of its own with real tokens (admin for the host-platform sync, texting
for the rest) and signs carrier webhooks the way Twilio does, so their handlers are reached,
not only their 403. Derandomized: the same cases every run, so CI is stable.
"""
from __future__ import annotations

import os
import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from adapters.auth import issue_token
from adapters.twilio_signature import compute_signature
from tests.e2e.harness import random_number

# A schema-valid request may still be refused with a documented 422: no JSON Schema can say
# "a cursor this API issued" or "a number libphonenumber accepts". Every other check runs.
NOT_CHECKED = [positive_data_acceptance]
# Per operation and phase: under 3 minutes for the whole document on the 2-core machine.
# FIRMTEXT_CONTRACT_EXAMPLES=200 digs deeper by hand.
MAX_EXAMPLES = int(os.environ.get("FIRMTEXT_CONTRACT_EXAMPLES") or 25)
FIRM_ID = "contract-" + uuid.uuid4().hex[:10]
LIVE: dict[str, str] = {}  # the running stack's URL, signing key and the firm's tokens (contract_firm)
BEFORE_RUN: dict[tuple[str, str, str], float] = {}  # the API's answer counts before schemathesis ran


@pytest.fixture(scope="session")
def contract_firm(running) -> dict[str, str]:
    """A firm synced into the stack; fills LIVE with its tokens and the stack's URL and key."""
    secret = running.settings.jwt_secret
    admin = {"Authorization": f"Bearer {issue_token(secret, FIRM_ID, 'host', ['admin'])}"}
    texting = {"Authorization": f"Bearer {issue_token(secret, FIRM_ID, 'alice', ['texting'])}"}
    with httpx.Client(base_url=running.settings.public_url, timeout=30) as http:
        r = http.put("/v1/firm", json={"name": "Contract Law", "number": random_number()}, headers=admin)
        assert r.status_code == 200, r.text
        r = http.put("/v1/users/alice", json={"name": "Alice", "email": "alice@contract.test",
                                               "permissions": ["texting"]}, headers=admin)
        assert r.status_code == 200, r.text
    BEFORE_RUN.update(answered(running.settings.public_url))  # other tests share the stack's counters
    LIVE.update(admin=admin["Authorization"], texting=texting["Authorization"], public_url=running.settings.public_url,
                twilio_auth_token=running.settings.twilio_auth_token)
    return LIVE


def served_document() -> dict:
    """The document the API serves, built by the same code without a server (nothing
    connects until a request); the test checks the live one is identical."""
    from adapters.http.app import create_app
    from firmtext.bootstrap import Container
    from firmtext.config import Settings

    return create_app(Container(Settings())).openapi()


DOCUMENT = served_document()
# An event stream never ends (a heartbeat keeps it open), so a generated call would wait for
# ever; tests/e2e/test_notifications.py and tests/browser/test_inbox_live.py read them.
STREAMS = ("/v1/notifications/stream", "/v1/inbox/stream")
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path=list(STREAMS))
# The API ignores query parameters it does not know (API.md: extending is fine), as most do.
schema.config.generation.update(allow_extra_parameters=False)


def test_the_live_document_is_the_one_tested(running) -> None:
    assert httpx.get(f"{running.settings.public_url}/openapi.json", timeout=30).json() == DOCUMENT


@schema.auth()
class StackCredentials:
    """The contract firm's tokens (admin for the host-platform sync, which is PUT/DELETE;
    texting otherwise) and, on webhooks, the carrier's signature over the form as sent.
    Given to schemathesis as auth, so its own unauthenticated cases stay unauthenticated."""

    def get(self, case, context) -> dict[str, str]:
        return LIVE

    def set(self, case, live: dict[str, str], context) -> None:
        if not live:
            return  # schemathesis also builds cases while collecting, before the stack runs
        headers = dict(case.headers or {})
        if case.path.startswith("/webhooks/"):
            body = case.body if isinstance(case.body, dict) else None
            if body is not None and all(isinstance(v, str) for v in body.values()):
                url = live["public_url"] + case.formatted_path
                headers["X-Twilio-Signature"] = compute_signature(live["twilio_auth_token"], url, body)
        elif case.path.startswith("/v1/"):
            headers["Authorization"] = live["admin" if case.method.upper() in ("PUT", "DELETE") else "texting"]
        case.headers = headers


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_document(case, running, contract_firm) -> None:
    case.call_and_validate(base_url=running.settings.public_url, timeout=30, excluded_checks=NOT_CHECKED)


def answered(public_url: str) -> dict[tuple[str, str, str], float]:
    """How many requests the API answered so far, by (method, route, status), from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    counts = {}
    for family in text_string_to_metric_families(httpx.get(f"{public_url}/metrics", timeout=30).text):
        for sample in family.samples:
            if sample.name == "firmtext_http_requests_total":
                counts[(sample.labels["method"], sample.labels["route"], sample.labels["status"])] = sample.value
    return counts


def test_the_generated_calls_reached_the_handlers(running, contract_firm) -> None:
    """Guards the run itself: with a wrong token or signature every case would be a
    conforming 401/403 and the contract test would prove nothing."""
    before, after = BEFORE_RUN, answered(running.settings.public_url)
    grew = {key for key, count in after.items() if count > before.get(key, 0)}
    assert ("GET", "/v1/inbox", "200") in grew, sorted(grew)  # the texting token works
    assert ("PUT", "/v1/contacts/{contact_id}", "200") in grew, sorted(grew)  # the admin token works
    assert ("GET", "/v1/inbox", "401") in grew, sorted(grew)  # unauthenticated cases stayed so
    assert ("POST", "/webhooks/twilio/voice", "200") in grew, sorted(grew)  # the carrier's signature is right
