"""Steps shared by the seed walkthrough (tests/e2e/test_seed_*.py): the seed
article ("MyCase Text Messaging", shared/seeds/000_*) walked section by section over real
HTTP, Kafka and PostgreSQL.

Every test gets a fresh firm with three staff (the ``staff`` fixture, tests/e2e/conftest.py): alice and bob hold the "Add/Edit Text
Messaging" permission, carol does not. A second firm (the rival) checks tenancy: it
never sees the first firm's conversations, contacts or cases, and is told 404, not 403.
Notifications, block, print and inbound MMS are covered by their own suites.
"""
from __future__ import annotations

import asyncio
import time

import httpx

from adapters.auth import issue_token
from tests.e2e.harness import Firm, eventually

# -- helpers ----------------------------------------------------------------------------

async def becomes(probe, expected, timeout: float = 20.0):
    """Wait until ``await probe()`` equals ``expected``; fail showing the last value seen."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = await probe()
        if last == expected:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {expected!r} within {timeout}s; last seen {last!r}")


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def refused(response: httpx.Response, status: int, code: str) -> None:
    """The contract's error shape, with the given status and code."""
    assert response.status_code == status, (response.status_code, response.text)
    assert set(response.json()) == {"error"} and response.json()["error"]["code"] == code, response.text
    assert response.json()["error"]["message"] and "Traceback" not in response.text


async def put_contact(firm: Firm, contact_id: str, name: str, phones: list[str], kind: str = "client"):
    await ok(await firm.admin("PUT", f"/v1/contacts/{contact_id}", {"name": name, "kind": kind, "phones": phones}))


async def put_case(firm: Firm, case_id: str, name: str, contact_ids: list[str]):
    await ok(await firm.admin("PUT", f"/v1/cases/{case_id}", {"name": name, "contact_ids": contact_ids}))


async def as_carol(firm: Firm, method: str, path: str, **kwargs) -> httpx.Response:
    """Carol's token, as the host platform issues it: her perms claim lacks ``texting``."""
    token = issue_token(firm.settings.jwt_secret, firm.firm_id, "carol", [])
    return await firm.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


async def search(firm: Firm, q: str) -> list[str]:
    """Contact ids the compose box finds for ``q``."""
    r = await firm.as_user("alice", "GET", "/v1/contacts", params={"q": q})
    return sorted(c["id"] for c in (await ok(r))["contacts"])


async def compose(firm: Firm, user: str = "alice", **body) -> httpx.Response:
    return await firm.as_user(user, "POST", "/v1/conversations", json=body)


async def send(firm: Firm, conv_id: str, body: str, user: str = "alice", **extra) -> dict:
    r = await firm.as_user(user, "POST", f"/v1/conversations/{conv_id}/messages", json={"body": body, **extra})
    return (await ok(r, 202))["message"]


async def act(firm: Firm, conv_id: str, action: str, user: str = "alice") -> dict:
    return await ok(await firm.as_user(user, "POST", f"/v1/conversations/{conv_id}/{action}"))


async def conversation(firm: Firm, conv_id: str, user: str = "alice") -> dict:
    return await ok(await firm.as_user(user, "GET", f"/v1/conversations/{conv_id}"))


def links(view: dict) -> tuple[list[str], list[str]]:
    """(contact ids, case ids) of a conversation view or inbox entry."""
    return sorted(c["id"] for c in view["contacts"]), sorted(k["id"] for k in view["cases"])


async def listed(firm: Firm, path: str, user: str = "alice") -> list[str] | int:
    """Conversation ids a page lists, or its status code when it is not 200."""
    r = await firm.as_user(user, "GET", path)
    return sorted(c["id"] for c in r.json()["conversations"]) if r.status_code == 200 else r.status_code


async def inbox_ids(firm: Firm, user: str = "alice", **params) -> list[str]:
    return [c["id"] for c in await firm.inbox(user, **params)]


async def inbox_entry(firm: Firm, conv_id: str, user: str = "alice") -> dict | None:
    return next((c for c in await firm.inbox(user) if c["id"] == conv_id), None)


async def bodies(firm: Firm, conv_id: str) -> list[str]:
    return [m["body"] for m in await firm.messages(conv_id)]


async def carrier_bodies(firm: Firm, http: httpx.AsyncClient, settings, to: str) -> list[str]:
    """What the carrier accepted from the firm's number to ``to``, oldest first."""
    sent = (await http.get(f"{settings.twilio_api_base}/_sim/messages")).json()["messages"]
    return [m["body"] for m in sent if m["to"] == to and m["from"] == firm.number]


async def delivered(firm: Firm, conv_id: str, message_id: str) -> dict:
    async def check():
        return next((m for m in await firm.messages(conv_id) if m["id"] == message_id
                     and m["status"] == "delivered"), None)
    return await eventually(check)


async def thread(firm: Firm, phone: str, first_text: str = "Hello?") -> str:
    """A conversation started by a client's text; waits until alice's inbox shows it."""
    await firm.text_in(phone, first_text)
    return (await firm.conversation_with(phone))["id"]


# -- Viewing Text Message Conversations ---------------------------------------------------
