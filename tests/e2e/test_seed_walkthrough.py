"""The seed article ("MyCase Text Messaging", shared/seeds/000_*) walked section by
section over real HTTP, Kafka and PostgreSQL.

Every test gets a fresh firm with three staff: alice and bob hold the "Add/Edit Text
Messaging" permission, carol does not. A second firm (the rival) checks tenancy: it
never sees the first firm's conversations, contacts or cases, and is told 404, not 403.
Notifications, block, print and inbound MMS are covered by their own suites.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from adapters.auth import issue_token
from tests.e2e.harness import Firm, eventually, random_number

STAFF = {"alice": {}, "bob": {}, "carol": {"permissions": []}}


@pytest.fixture
async def staff(settings, http) -> Firm:
    """A fresh firm: alice and bob may text, carol may not."""
    return await Firm(settings, http).setup(users=STAFF, name="Archer & Baker LLP")


@pytest.fixture
async def rival(settings, http) -> Firm:
    """Another firm on the same deployment."""
    return await Firm(settings, http).setup(users={"alice": {}}, name="Rival Law")


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

class TestViewingConversations:
    async def test_a_conversation_shows_in_the_inbox_on_its_contact_and_on_the_linked_case(self, staff):
        phone = random_number()
        await put_contact(staff, "ann", "Ann Archer", [phone])
        await put_case(staff, "smith", "Smith v. Jones", ["ann"])
        await staff.text_in(phone, "Is my hearing still on Monday?")
        conv = await staff.conversation_with(phone)
        await becomes(lambda: _inbox_links(staff, conv["id"], "alice"), (["ann"], ["smith"]))
        await becomes(lambda: _inbox_links(staff, conv["id"], "bob"), (["ann"], ["smith"]))
        assert await listed(staff, "/v1/contacts/ann/conversations") == [conv["id"]]
        assert await listed(staff, "/v1/cases/smith/conversations") == [conv["id"]]
        view = await conversation(staff, conv["id"])
        assert view["phone"] == phone and links(view) == (["ann"], ["smith"])
        assert view["contacts"][0]["name"] == "Ann Archer" and view["cases"][0]["name"] == "Smith v. Jones"

    async def test_links_follow_contact_and_case_changes_live(self, staff):
        phone, other_phone = random_number(), random_number()
        conv_id = await thread(staff, phone, "Hi, it's Ann")  # texted before the firm knew her
        contact_page, case_page = "/v1/contacts/ann/conversations", "/v1/cases/smith/conversations"

        async def state():
            return (links(await conversation(staff, conv_id)), await listed(staff, contact_page),
                    await listed(staff, case_page))

        assert await state() == (([], []), 404, 404)
        await put_contact(staff, "ann", "Ann Archer", [phone])
        await becomes(state, ((["ann"], []), [conv_id], 404))
        await put_case(staff, "smith", "Smith v. Jones", ["ann"])
        await becomes(state, ((["ann"], ["smith"]), [conv_id], [conv_id]))
        await put_contact(staff, "ann", "Ann Archer", [other_phone])  # loses the number
        await becomes(state, (([], []), [], []))
        await put_contact(staff, "ann", "Ann Archer", [other_phone, phone])  # gains it back
        await becomes(state, ((["ann"], ["smith"]), [conv_id], [conv_id]))
        await put_case(staff, "smith", "Smith v. Jones", [])  # unlinked from the case
        await becomes(state, ((["ann"], []), [conv_id], []))
        await put_case(staff, "smith", "Smith v. Jones", ["ann"])  # linked again
        await becomes(state, ((["ann"], ["smith"]), [conv_id], [conv_id]))
        assert (await staff.admin("DELETE", "/v1/cases/smith")).status_code == 204
        await becomes(state, ((["ann"], []), [conv_id], 404))
        assert (await staff.admin("DELETE", "/v1/contacts/ann")).status_code == 204
        await becomes(state, (([], []), 404, 404))
        # The host platform may bring both back (an undo, a re-import): the links return.
        await put_contact(staff, "ann", "Ann Archer", [phone])
        await put_case(staff, "smith", "Smith v. Jones", ["ann"])
        await becomes(state, ((["ann"], ["smith"]), [conv_id], [conv_id]))
        # The conversation itself outlives its links.
        assert await bodies(staff, conv_id) == ["Hi, it's Ann"]
        assert conv_id in await inbox_ids(staff)

    async def test_two_contacts_sharing_a_number_are_both_listed(self, staff):
        phone = random_number()
        await put_contact(staff, "ann", "Ann Archer", [phone])
        await put_contact(staff, "ben", "Ben Archer", [phone], kind="lead")
        await put_case(staff, "estate", "Estate of Archer", ["ben"])
        conv_id = await thread(staff, phone, "This is the family phone")
        await becomes(lambda: _view_links(staff, conv_id), (["ann", "ben"], ["estate"]))
        await becomes(lambda: _inbox_links(staff, conv_id, "alice"), (["ann", "ben"], ["estate"]))
        assert await listed(staff, "/v1/contacts/ann/conversations") == [conv_id]
        assert await listed(staff, "/v1/contacts/ben/conversations") == [conv_id]
        assert await listed(staff, "/v1/cases/estate/conversations") == [conv_id]
        kinds = {c["id"]: c["kind"] for c in (await conversation(staff, conv_id))["contacts"]}
        assert kinds == {"ann": "client", "ben": "lead"}

    async def test_another_firm_sees_nothing_and_gets_404_not_403(self, staff, rival):
        phone = random_number()
        await put_contact(staff, "ann", "Ann Archer", [phone])
        await put_case(staff, "smith", "Smith v. Jones", ["ann"])
        conv_id = await thread(staff, phone, "confidential")
        await becomes(lambda: listed(staff, "/v1/cases/smith/conversations"), [conv_id])
        for method, path in (("GET", f"/v1/conversations/{conv_id}"),
                             ("GET", f"/v1/conversations/{conv_id}/messages"),
                             ("POST", f"/v1/conversations/{conv_id}/read"),
                             ("POST", f"/v1/conversations/{conv_id}/mute"),
                             ("POST", f"/v1/conversations/{conv_id}/leave"),
                             ("POST", f"/v1/conversations/{conv_id}/archive"),
                             ("GET", "/v1/contacts/ann/conversations"),
                             ("GET", "/v1/cases/smith/conversations")):
            refused(await rival.as_user("alice", method, path), 404, "not_found")
        refused(await rival.as_user("alice", "POST", f"/v1/conversations/{conv_id}/messages",
                                    json={"body": "hi"}), 404, "not_found")
        refused(await compose(rival, contact_id="ann"), 404, "not_found")
        assert (await ok(await rival.as_user("alice", "GET", "/v1/contacts", params={"q": "Ann"})))["contacts"] == []
        assert await rival.inbox() == []
        # Nor can it take over the firm's texting number (inbound texts are routed by it).
        refused(await rival.admin("PUT", "/v1/firm", {"name": "Rival Law", "number": staff.number}),
                409, "number_taken")
        # The rival's own contact "ann" is a different person: it never reaches firm A's thread.
        await put_contact(rival, "ann", "Another Ann", [])
        await becomes(lambda: listed(rival, "/v1/contacts/ann/conversations"), [])
        # The same client texting the rival starts the rival's own conversation.
        await rival.text_in(phone, "hello rival")
        theirs = await rival.conversation_with(phone)
        assert theirs["id"] != conv_id and theirs["contacts"] == []
        assert await bodies(staff, conv_id) == ["confidential"]
        # Firm A's state was untouched by the rival's refused actions.
        view = await conversation(staff, conv_id)
        assert not view["muted"] and not view["archived"] and not view["left"]


async def _view_links(firm: Firm, conv_id: str):
    return links(await conversation(firm, conv_id))


async def _inbox_links(firm: Firm, conv_id: str, user: str):
    entry = await inbox_entry(firm, conv_id, user)
    return links(entry) if entry else None


# -- Compose --------------------------------------------------------------------------------

class TestCompose:
    async def test_search_contacts_by_name_and_by_phone_digits(self, staff, rival):
        ann, bob = "+1555" + "2013344", random_number()
        await put_contact(staff, "ann", "Ann Archer", ["(555) 201-3344"])
        await put_contact(staff, "bob", "Bob Baker", [bob], kind="lead")

        await becomes(lambda: search(staff, "archer"), ["ann"])
        assert await search(staff, "ANN ARCH") == ["ann"]
        assert await search(staff, "baker") == ["bob"]
        assert await search(staff, "201-3344") == ["ann"]
        assert await search(staff, "(555) 201 3344") == ["ann"]
        assert await search(staff, bob[-7:]) == ["bob"]
        assert await search(staff, "nobody by that name") == []
        hit = (await ok(await staff.as_user("alice", "GET", "/v1/contacts", params={"q": "Ann"})))["contacts"]
        assert hit == [{"id": "ann", "name": "Ann Archer", "kind": "client", "phones": [ann]}]
        assert await search(rival, "Archer") == [] and await search(rival, "2013344") == []

    async def test_compose_to_a_contact_returns_201_then_200_and_replies_thread_into_it(self, staff):
        phone = random_number()
        await put_contact(staff, "ann", "Ann Archer", [phone])
        await becomes(lambda: search(staff, "Ann"), ["ann"])  # picked in the compose box
        first = await ok(await compose(staff, contact_id="ann"), 201)
        again = await ok(await compose(staff, "bob", contact_id="ann"), 200)
        assert first["id"] == again["id"] and first["phone"] == phone
        assert [c["id"] for c in first["contacts"]] == ["ann"]
        sent = await send(staff, first["id"], "Please send your driver's license photo.")
        await staff.text_in(phone, "Will do tonight")
        assert (await staff.conversation_with(phone))["id"] == first["id"]
        await becomes(lambda: bodies(staff, first["id"]),
                      ["Please send your driver's license photo.", "Will do tonight"])
        assert (await staff.messages(first["id"]))[0]["id"] == sent["id"]

    async def test_compose_to_a_raw_number_in_any_common_format(self, staff):
        digits = "555" + random_number()[-7:]
        e164 = "+1" + digits
        formats = [f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                   f"{digits[:3]}.{digits[3:6]}.{digits[6:]}", digits, "1" + digits, f"+1 {digits}",
                   f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"  {e164}  "]
        first = await ok(await compose(staff, phone=formats[0]), 201)
        assert first["phone"] == e164 and first["contacts"] == [] and first["cases"] == []
        for spelled in formats[1:]:
            same = await ok(await compose(staff, phone=spelled), 200)
            assert same["id"] == first["id"] and same["phone"] == e164, spelled
        abroad = await ok(await compose(staff, phone="+44 20 7946 0958"), 201)
        assert abroad["phone"] == "+442079460958"
        await send(staff, first["id"], "Reminder: documents due Friday.")
        await staff.text_in(e164, "Got it")
        assert (await staff.conversation_with(e164))["id"] == first["id"]
        await becomes(lambda: bodies(staff, first["id"]), ["Reminder: documents due Friday.", "Got it"])

    async def test_composing_the_same_number_at_once_opens_one_conversation(self, staff):
        phone = random_number()
        answers = await asyncio.gather(*(compose(staff, user, phone=phone) for user in ("alice", "bob") * 3))
        assert sorted(r.status_code for r in answers) == [200] * 5 + [201], [r.text for r in answers]
        assert len({r.json()["id"] for r in answers}) == 1

    async def test_compose_refusals(self, staff):
        await put_contact(staff, "nophone", "No Phone", [])
        refused(await compose(staff, contact_id="nobody"), 404, "not_found")
        refused(await compose(staff, contact_id="nophone"), 422, "contact_has_no_phone")
        refused(await compose(staff, phone="not a number"), 422, "invalid_phone")
        refused(await compose(staff), 422, "invalid_request")


# -- Sending / Receiving Text Messages -----------------------------------------------------

class TestSendingAndReceiving:
    async def test_staff_send_and_client_replies_show_in_one_thread_in_order(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        first = await send(staff, conv_id, "Confirming court on Monday at 9am.")
        assert first["status"] == "queued" and first["direction"] == "outbound"
        assert first["sender_user_id"] == "alice" and first["media"] == []
        await delivered(staff, conv_id, first["id"])
        await staff.text_in(phone, "I'll be there")
        await becomes(lambda: bodies(staff, conv_id), ["Confirming court on Monday at 9am.", "I'll be there"])
        second = await send(staff, conv_id, "Bring your ID.", user="bob")
        await staff.text_in(phone, "OK")
        expected = ["Confirming court on Monday at 9am.", "I'll be there", "Bring your ID.", "OK"]
        await becomes(lambda: bodies(staff, conv_id), expected)
        await delivered(staff, conv_id, second["id"])
        msgs = await staff.messages(conv_id, user="bob")
        assert [m["direction"] for m in msgs] == ["outbound", "inbound", "outbound", "inbound"]
        assert [m["sender_user_id"] for m in msgs] == ["alice", None, "bob", None]
        assert [m["status"] for m in msgs] == ["delivered", "received", "delivered", "received"]
        assert [m["created_at"] for m in msgs] == sorted(m["created_at"] for m in msgs)
        assert await carrier_bodies(staff, http, settings, phone) == [expected[0], expected[2]]
        assert (await staff.conversation_with(phone, user="bob"))["last_message"]["body"] == "OK"

    async def test_only_users_with_the_texting_permission_read_and_send(self, staff, http):
        phone = random_number()
        await put_contact(staff, "ann", "Ann Archer", [phone])
        await put_case(staff, "smith", "Smith v. Jones", ["ann"])
        conv_id = await thread(staff, phone, "hello")
        for method, path, body in (("GET", "/v1/inbox", None), ("GET", f"/v1/conversations/{conv_id}", None),
                                   ("GET", f"/v1/conversations/{conv_id}/messages", None),
                                   ("POST", f"/v1/conversations/{conv_id}/messages", {"body": "hi"}),
                                   ("POST", "/v1/conversations", {"phone": random_number()}),
                                   ("POST", f"/v1/conversations/{conv_id}/read", None),
                                   ("POST", f"/v1/conversations/{conv_id}/mute", None),
                                   ("POST", f"/v1/conversations/{conv_id}/archive", None),
                                   ("GET", "/v1/contacts?q=ann", None),
                                   ("GET", "/v1/contacts/ann/conversations", None),
                                   ("GET", "/v1/cases/smith/conversations", None)):
            refused(await as_carol(staff, method, path, json=body), 403, "forbidden")
            refused(await http.request(method, path, json=body), 401, "unauthenticated")
        assert await bodies(staff, conv_id) == ["hello"]
        assert not (await conversation(staff, conv_id))["archived"]

    async def test_picture_messages_cannot_be_sent_to_clients(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        for extra in ({"media": [{"url": "https://example.test/x.jpg"}]}, {"media_url": "https://example.test/x.jpg"},
                      {"MediaUrl0": "https://example.test/x.jpg"}, {"media": []}):
            r = await staff.as_user("alice", "POST", f"/v1/conversations/{conv_id}/messages",
                                    json={"body": "see attached", **extra})
            refused(r, 422, "media_not_supported")
        marker = await send(staff, conv_id, "text only")
        await delivered(staff, conv_id, marker["id"])
        assert await bodies(staff, conv_id) == ["text only"]
        assert await carrier_bodies(staff, http, settings, phone) == ["text only"]


# -- Managing Notifications & the Inbox ------------------------------------------------------

class TestManagingTheInbox:
    async def test_the_bell_mutes_and_unmutes_for_the_caller_only(self, staff):
        conv_id = await thread(staff, random_number())
        assert (await act(staff, conv_id, "mute"))["muted"] is True
        assert (await conversation(staff, conv_id))["muted"] is True
        assert (await conversation(staff, conv_id, "bob"))["muted"] is False
        await becomes(lambda: _muted_in_inbox(staff, conv_id, "alice"), True)
        assert await _muted_in_inbox(staff, conv_id, "bob") is False
        assert (await act(staff, conv_id, "unmute"))["muted"] is False
        await becomes(lambda: _muted_in_inbox(staff, conv_id, "alice"), False)
        # Participating in a conversation turns notifications back on.
        await act(staff, conv_id, "mute", "bob")
        await send(staff, conv_id, "On it.", user="bob")
        assert (await conversation(staff, conv_id, "bob"))["muted"] is False
        await becomes(lambda: _muted_in_inbox(staff, conv_id, "bob"), False)

    async def test_leaving_removes_it_from_the_callers_inbox_only_until_they_text_in_it(self, staff):
        phone = random_number()
        conv_id = await thread(staff, phone)
        await staff.conversation_with(phone, user="bob")
        assert (await act(staff, conv_id, "leave"))["left"] is True
        await becomes(lambda: _in_inbox(staff, conv_id, "alice"), False)
        assert await _in_inbox(staff, conv_id, "bob")
        await staff.text_in(phone, "anyone there?")
        await becomes(lambda: _last_body(staff, conv_id, "bob"), "anyone there?")
        assert not await _in_inbox(staff, conv_id, "alice")  # new texts do not bring it back
        assert (await conversation(staff, conv_id))["left"] is True
        await send(staff, conv_id, "Yes, alice here.")
        await becomes(lambda: _last_body(staff, conv_id, "alice"), "Yes, alice here.")
        assert (await conversation(staff, conv_id))["left"] is False

    async def test_archiving_removes_it_from_everyones_inbox_until_the_next_inbound_text(self, staff):
        phone = random_number()
        conv_id, kept = await thread(staff, phone, "case closed?"), await thread(staff, random_number())
        assert (await act(staff, conv_id, "archive", "bob"))["archived"] is True
        await becomes(lambda: _in_inbox(staff, conv_id, "alice"), False)
        await becomes(lambda: _in_inbox(staff, conv_id, "bob"), False)
        assert await _in_inbox(staff, kept, "alice") and await _in_inbox(staff, kept, "bob")
        assert (await conversation(staff, conv_id))["archived"] is True
        await staff.text_in(phone, "one more question")
        await becomes(lambda: _last_body(staff, conv_id, "alice"), "one more question")
        await becomes(lambda: _last_body(staff, conv_id, "bob"), "one more question")
        assert (await conversation(staff, conv_id))["archived"] is False

    async def test_unread_counts_are_per_user_and_mark_read_clears_the_callers(self, staff):
        phone, quiet_phone = random_number(), random_number()
        conv_id, quiet = await thread(staff, phone, "first"), await thread(staff, quiet_phone, "only")
        await staff.text_in(phone, "second")
        await becomes(lambda: _unread(staff, conv_id, "alice"), 2)
        await becomes(lambda: _unread(staff, conv_id, "bob"), 2)
        await act(staff, conv_id, "read")
        await becomes(lambda: _unread(staff, conv_id, "alice"), 0)
        assert await _unread(staff, conv_id, "bob") == 2
        await send(staff, conv_id, "Thanks")  # our own texts are never unread
        await staff.text_in(phone, "third")
        await becomes(lambda: _unread(staff, conv_id, "alice"), 1)
        await becomes(lambda: _unread(staff, conv_id, "bob"), 3)
        await act(staff, quiet, "read")
        await becomes(lambda: _unread(staff, quiet, "alice"), 0)
        assert await inbox_ids(staff, "alice", unread_only="true") == [conv_id]
        assert sorted(await inbox_ids(staff, "bob", unread_only="true")) == sorted([conv_id, quiet])
        assert sorted(await inbox_ids(staff, "alice", unread_only="false")) == sorted([conv_id, quiet])

    async def test_newest_activity_comes_first(self, staff):
        phones = [random_number() for _ in range(3)]
        convs = [await thread(staff, p, f"hello {i}") for i, p in enumerate(phones)]
        await becomes(lambda: inbox_ids(staff), convs[::-1])
        await staff.text_in(phones[0], "bumped")
        await becomes(lambda: inbox_ids(staff), [convs[0], convs[2], convs[1]])
        await send(staff, convs[1], "Our reply counts as activity too.")
        await becomes(lambda: inbox_ids(staff, "bob"), [convs[1], convs[0], convs[2]])

    async def test_paging_walks_every_conversation_once(self, staff):
        convs = [await thread(staff, random_number(), f"page me {i}") for i in range(8)]
        full = await becomes(lambda: inbox_ids(staff), convs[::-1])
        pages, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = await ok(await staff.as_user("alice", "GET", "/v1/inbox", params=params))
            pages.append([c["id"] for c in page["conversations"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert len(pages) < 5, pages
        assert [len(p) for p in pages] == [3, 3, 2]
        assert [cid for p in pages for cid in p] == full
        refused(await staff.as_user("alice", "GET", "/v1/inbox", params={"cursor": "bogus!"}), 422, "invalid_cursor")
        for limit in (0, 201):
            refused(await staff.as_user("alice", "GET", "/v1/inbox", params={"limit": limit}), 422, "invalid_limit")


async def _in_inbox(firm: Firm, conv_id: str, user: str) -> bool:
    return conv_id in await inbox_ids(firm, user)


async def _muted_in_inbox(firm: Firm, conv_id: str, user: str):
    entry = await inbox_entry(firm, conv_id, user)
    return entry["muted"] if entry else None


async def _unread(firm: Firm, conv_id: str, user: str):
    entry = await inbox_entry(firm, conv_id, user)
    return entry["unread"] if entry else None


async def _last_body(firm: Firm, conv_id: str, user: str):
    entry = await inbox_entry(firm, conv_id, user)
    return entry["last_message"]["body"] if entry else None


# -- STOP (FAQ 5) --------------------------------------------------------------------------

class TestStop:
    async def test_a_client_replying_stop_cannot_be_texted_until_start(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        await delivered(staff, conv_id, (await send(staff, conv_id, "Hearing moved to Tuesday."))["id"])
        await staff.text_in(phone, "Please stop texting at night")  # not a keyword
        assert (await conversation(staff, conv_id))["opted_out"] is False
        await staff.text_in(phone, "STOP")
        assert (await conversation(staff, conv_id))["opted_out"] is True
        assert (await conversation(staff, conv_id, "bob"))["opted_out"] is True
        for user in ("alice", "bob"):
            r = await staff.as_user(user, "POST", f"/v1/conversations/{conv_id}/messages",
                                    json={"body": "still there?"})
            refused(r, 409, "opted_out")
        await staff.text_in(phone, " start ")
        assert (await conversation(staff, conv_id))["opted_out"] is False
        back = await send(staff, conv_id, "Welcome back.")
        await delivered(staff, conv_id, back["id"])
        assert await bodies(staff, conv_id) == ["Hearing moved to Tuesday.", "Please stop texting at night",
                                                "STOP", " start ", "Welcome back."]
        assert await carrier_bodies(staff, http, settings, phone) == ["Hearing moved to Tuesday.", "Welcome back."]


# -- Idempotency-Key (API contract) ------------------------------------------------------------

class TestIdempotencyKey:
    async def test_the_same_key_and_body_send_one_message_and_replay_the_response(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        path, key = f"/v1/conversations/{conv_id}/messages", {"Idempotency-Key": uuid.uuid4().hex}
        first = await staff.as_user("alice", "POST", path, json={"body": "only once"}, headers=key)
        second = await staff.as_user("alice", "POST", path, json={"body": "only once"}, headers=key)
        assert first.status_code == second.status_code == 202
        assert first.json() == second.json()
        other = await staff.as_user("alice", "POST", path, json={"body": "something else"}, headers=key)
        refused(other, 422, "idempotency_key_reused")
        marker = await send(staff, conv_id, "marker")
        await delivered(staff, conv_id, marker["id"])
        await delivered(staff, conv_id, first.json()["message"]["id"])
        assert await bodies(staff, conv_id) == ["only once", "marker"]
        assert await carrier_bodies(staff, http, settings, phone) == ["only once", "marker"]

    async def test_concurrent_retries_with_one_key_never_send_twice(self, staff, http, settings):
        phone = random_number()
        conv_id = (await ok(await compose(staff, phone=phone), 201))["id"]
        path, key = f"/v1/conversations/{conv_id}/messages", {"Idempotency-Key": uuid.uuid4().hex}
        answers = await asyncio.gather(*(staff.as_user("alice", "POST", path, json={"body": "just once"},
                                                       headers=key) for _ in range(6)))
        accepted = [r for r in answers if r.status_code == 202]
        assert accepted and all(r.status_code in (202, 409) for r in answers), [r.text for r in answers]
        assert len({r.json()["message"]["id"] for r in accepted}) == 1
        for r in answers:
            if r.status_code == 409:
                refused(r, 409, "request_in_progress")
        await delivered(staff, conv_id, accepted[0].json()["message"]["id"])
        assert await bodies(staff, conv_id) == ["just once"]
        assert await carrier_bodies(staff, http, settings, phone) == ["just once"]

    async def test_compose_with_a_key_replays_the_original_answer(self, staff):
        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"phone": random_number()}
        first = await staff.as_user("alice", "POST", "/v1/conversations", json=body, headers=key)
        second = await staff.as_user("alice", "POST", "/v1/conversations", json=body, headers=key)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
