"""Notifications over real HTTP, Kafka, PostgreSQL and SMTP: who gets the in-app bubble,
who gets an email or a desktop push, and the seen / stream mechanics (docs/inbox.md)."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tests.e2e.harness import Firm, eventually, random_number


def person(email="none", desktop="none", **extra) -> dict:
    return {"notify": {"email": email, "desktop": desktop}, **extra}


async def setup(settings, http, **users) -> Firm:
    """A fresh firm; every user's email address is unique to the firm (one mailbox for all)."""
    firm = Firm(settings, http)
    specs = {u: {"email": f"{u}@{firm.firm_id}.test", **spec} for u, spec in users.items()}
    return await firm.setup(users=specs)


async def bell(firm: Firm, user: str, **params) -> dict:
    r = await firm.as_user(user, "GET", "/v1/notifications", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def bell_has(firm: Firm, user: str, count: int) -> list[dict]:
    """Wait until ``user``'s in-app list holds ``count`` notifications (newest first)."""
    async def check():
        items = (await bell(firm, user))["notifications"]
        assert len(items) <= count, items
        return (items,) if len(items) == count else None  # a tuple: truthy even when empty
    return (await eventually(check))[0]


async def reply(firm: Firm, user: str, conversation_id: str, body: str = "On it.") -> None:
    r = await firm.as_user(user, "POST", f"/v1/conversations/{conversation_id}/messages", json={"body": body})
    assert r.status_code == 202, r.text


async def sse_events(response):
    """Parse a text/event-stream into dicts of its fields (events with data only)."""
    event: dict = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in event:
                yield {**event, "data": json.loads(event["data"])}
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value[1:] if value.startswith(" ") else value


async def test_a_new_number_notifies_every_texting_user_and_only_them(settings, http):
    firm = await setup(settings, http, alice={}, bob={}, carol={"permissions": []})
    client = random_number()
    await firm.text_in(client, "Hello, is anyone there?")
    [alice] = await bell_has(firm, "alice", 1)
    assert alice["kind"] == "new_number" and alice["seen"] is False
    assert alice["preview"] == {"phone": client, "contacts": [], "body": "Hello, is anyone there?"}
    assert (await bell_has(firm, "bob", 1))[0]["id"] != alice["id"]
    # carol lacks the texting permission in the host platform: nothing for her (same event, already written).
    assert (await bell(firm, "carol"))["notifications"] == []
    assert (await bell(firm, "alice"))["unseen"] == 1


async def test_after_a_reply_only_participants_are_notified(settings, http):
    firm = await setup(settings, http, alice={}, bob={})
    client = random_number()
    await firm.text_in(client, "first")
    [first] = await bell_has(firm, "alice", 1)
    await reply(firm, "alice", first["conversation_id"])
    await firm.text_in(client, "second")
    latest = (await bell_has(firm, "alice", 2))[0]
    assert latest["kind"] == "inbound" and latest["preview"]["body"] == "second"
    assert [n["kind"] for n in (await bell(firm, "bob"))["notifications"]] == ["new_number"]


async def both_participating(settings, http):
    """A firm whose alice and bob have both replied to a new client: (firm, client, conversation id)."""
    firm = await setup(settings, http, alice={}, bob={})
    client = random_number()
    await firm.text_in(client, "one")
    conv = (await bell_has(firm, "bob", 1))[0]["conversation_id"]
    await reply(firm, "alice", conv)
    await reply(firm, "bob", conv)
    return firm, client, conv


async def test_mute_silences_and_sending_unmutes(settings, http):
    firm, client, conv = await both_participating(settings, http)
    assert (await firm.as_user("bob", "POST", f"/v1/conversations/{conv}/mute")).json()["muted"] is True
    await firm.text_in(client, "two")
    await bell_has(firm, "alice", 2)
    assert len((await bell(firm, "bob"))["notifications"]) == 1  # muted: nothing for "two"
    await reply(firm, "bob", conv, "Back on this.")  # participating turns the bell back on
    await firm.text_in(client, "three")
    assert (await bell_has(firm, "bob", 2))[0]["preview"]["body"] == "three"


async def test_leaving_stops_notifications(settings, http):
    firm, client, conv = await both_participating(settings, http)
    assert (await firm.as_user("bob", "POST", f"/v1/conversations/{conv}/leave")).status_code == 200
    await firm.text_in(client, "two")
    await bell_has(firm, "alice", 2)
    assert len((await bell(firm, "bob"))["notifications"]) == 1


async def test_a_colleagues_text_emails_and_pushes_but_never_bubbles(settings, http, mailbox):
    firm = await setup(settings, http, alice={}, bob=person(email="firm", desktop="both"),
                       dave=person(email="clients"))
    client = random_number()
    await firm.text_in(client, "Can we talk?")
    conv = (await bell_has(firm, "bob", 1))[0]["conversation_id"]
    await reply(firm, "bob", conv)  # bob participates; dave never does
    await reply(firm, "alice", conv, "Confidential: settlement offer is 40k")
    [letter] = await mailbox.await_for(f"bob@{firm.firm_id}.test")
    assert letter["Subject"] == f"New text message to ***{client[-4:]} from Alice"
    text = letter.get_payload(decode=True).decode()
    assert "settlement" not in text and client not in text and f"/v1/conversations/{conv}" in text
    # No in-app bubble for a colleague's outgoing text.
    assert [n["kind"] for n in (await bell(firm, "bob"))["notifications"]] == ["new_number"]
    # Desktop (replayed from the start of the stream): the new number and alice's text.
    async with http.stream("GET", "/v1/notifications/stream", headers={**firm.headers("bob"),
                                                                        "Last-Event-ID": "0"}) as r:
        events = sse_events(r)
        kinds = [(await asyncio.wait_for(anext(events), 10))["data"]["kind"] for _ in range(2)]
    assert kinds == ["new_number", "firm_message"]
    # dave asked for client texts only and does not participate: one email, the new number's.
    [dave] = await mailbox.await_for(f"dave@{firm.firm_id}.test")
    assert dave["Subject"] == f"New text message from ***{client[-4:]}"
    assert "Can we talk" not in dave.get_payload(decode=True).decode()


async def test_email_preferences_clients_both_none(settings, http, mailbox):
    firm = await setup(settings, http, erin=person(email="clients"), fred=person(email="both"),
                       gina=person(email="none"))
    client = random_number()
    r = await firm.admin("PUT", "/v1/contacts/c-1", {"name": "Jane Roe", "kind": "client", "phones": [client]})
    assert r.status_code == 200, r.text
    await firm.text_in(client, "my private matter")
    for user in ("erin", "fred"):
        [letter] = await mailbox.await_for(f"{user}@{firm.firm_id}.test")
        assert letter["Subject"] == "New text message from Jane Roe"
        text = letter.get_payload(decode=True).decode()
        assert "private matter" not in text and client not in text and "conversation" in text
    await asyncio.sleep(2)  # gina's row was written with erin's and fred's: it would be here by now
    assert mailbox.to(f"gina@{firm.firm_id}.test") == []
    assert len(await bell_has(firm, "gina", 1)) == 1  # "none" is about email; the bubble stays


async def test_blocked_numbers_notify_no_one(settings, http):
    firm = await setup(settings, http, alice={})
    spammer, client = random_number(), random_number()
    await firm.text_in(spammer, "spam")
    [spam] = await bell_has(firm, "alice", 1)
    r = await firm.as_user("alice", "POST", f"/v1/conversations/{spam['conversation_id']}/block")
    assert r.status_code == 200, r.text
    await bell_has(firm, "alice", 0)  # the conversation's notifications go with it
    await firm.text_in(spammer, "more spam")
    await firm.text_in(client, "a real client")  # later on the firm's partition than the spam
    [only] = await bell_has(firm, "alice", 1)
    assert only["preview"]["phone"] == client


async def test_the_stream_pushes_a_desktop_notification_within_seconds(settings, http):
    firm = await setup(settings, http, alice=person(desktop="clients"))
    client = random_number()
    async with http.stream("GET", "/v1/notifications/stream", headers=firm.headers("alice")) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
        started = time.monotonic()
        await firm.text_in(client, "Running late")
        event = await asyncio.wait_for(anext(events), 10)
    assert time.monotonic() - started < 10
    assert event["event"] == "notification" and event["id"] == str(event["data"]["seq"])
    assert event["data"]["preview"]["body"] == "Running late" and event["data"]["kind"] == "new_number"


async def test_last_event_id_replays_missed_notifications(settings, http):
    firm = await setup(settings, http, alice=person(desktop="clients"))
    client = random_number()
    token = firm.token("alice")
    url = "/v1/notifications/stream"
    async with http.stream("GET", url, params={"access_token": token}) as r:  # the EventSource way
        assert r.status_code == 200
        events = sse_events(r)
        await firm.text_in(client, "one")
        first = await asyncio.wait_for(anext(events), 10)
    await firm.text_in(client, "two")
    await firm.text_in(client, "three")
    await bell_has(firm, "alice", 3)
    async with http.stream("GET", url, params={"access_token": token}, headers={"Last-Event-ID": first["id"]}) as r:
        events = sse_events(r)
        missed = [await asyncio.wait_for(anext(events), 10) for _ in range(2)]
    assert [e["data"]["preview"]["body"] for e in missed] == ["two", "three"]
    async with http.stream("GET", url, headers=firm.headers("alice")) as r:  # no Last-Event-ID: new ones only
        events = sse_events(r)
        await firm.text_in(client, "four")
        assert (await asyncio.wait_for(anext(events), 10))["data"]["preview"]["body"] == "four"
    bad = await http.get(url, params={"access_token": "not-a-token"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthenticated"


async def test_seen_marks_paging_and_unseen_only(settings, http):
    firm = await setup(settings, http, alice={})
    client = random_number()
    for body in ("one", "two", "three"):
        await firm.text_in(client, body)
    newest, middle, oldest = await bell_has(firm, "alice", 3)
    page = await bell(firm, "alice", limit=2)
    assert [n["id"] for n in page["notifications"]] == [newest["id"], middle["id"]] and page["unseen"] == 3
    rest = await bell(firm, "alice", limit=2, cursor=page["next_cursor"])
    assert [n["id"] for n in rest["notifications"]] == [oldest["id"]] and rest["next_cursor"] is None

    r = await firm.as_user("alice", "POST", "/v1/notifications/seen", json={"up_to": middle["seq"]})
    assert r.status_code == 200 and r.json() == {"seen_up_to": middle["seq"], "unseen": 1}, r.text

    async def seen_through_middle():
        state = await bell(firm, "alice")
        return state if state["unseen"] == 1 else None
    state = await eventually(seen_through_middle)
    assert [n["seen"] for n in state["notifications"]] == [False, True, True]
    assert [n["id"] for n in (await bell(firm, "alice", unseen_only="true"))["notifications"]] == [newest["id"]]

    r = await firm.as_user("alice", "POST", "/v1/notifications/seen", json={})
    assert r.status_code == 200 and r.json() == {"seen_up_to": newest["seq"], "unseen": 0}
    await eventually(lambda: _unseen_is(firm, 0))
    bad = await firm.as_user("alice", "POST", "/v1/notifications/seen", json={"up_to": "soon"})
    assert bad.status_code == 422
    ghost = await firm.as_user("ghost", "POST", "/v1/notifications/seen", json={})
    assert ghost.status_code == 404 and ghost.json()["error"]["code"] == "not_found"


async def _unseen_is(firm: Firm, count: int) -> bool:
    return (await bell(firm, "alice"))["unseen"] == count


async def test_open_streams_end_cleanly_when_the_api_shuts_down(stack, test_settings, settings, http):
    import httpx

    from firmtext.infra.daemon import free_port

    port = free_port()  # a second API process on the same database, which this test stops
    own = stack(components=("api",), settings=test_settings.with_overrides(http_port=port),
                log_dir=Path(settings.var_dir) / "logs" / settings.app_id / "shutdown-drill")
    firm = await setup(settings, http, alice={})
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as other:
        async with other.stream("GET", "/v1/notifications/stream", headers=firm.headers("alice")) as r:
            assert r.status_code == 200
            lines = r.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            started = time.monotonic()
            await asyncio.to_thread(own.stop)
            rest = [line async for line in lines]  # ends normally: no protocol error
    assert time.monotonic() - started < 4, "the open stream held the shutdown up"
    assert all(not line.startswith("data:") for line in rest)
