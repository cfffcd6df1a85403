"""Seed, "Compose" and "Sending/Receiving Text Messages"."""
import asyncio

from tests.e2e.harness import random_number
from tests.e2e.seed_steps import (
    as_carol, becomes, bodies, carrier_bodies, compose, conversation, delivered, ok, put_case,
    put_contact, refused, search, send, thread)


class TestCompose:
    async def test_search_contacts_by_name_and_by_phone_digits(self, staff, rival):
        ann, bob = "+1555" + "2013344", random_number()
        await put_contact(staff, "ann", "Ann Archer", ["(555) 201-3344"])
        await put_contact(staff, "bob", "Bob Baker", [bob], kind="lead")

        await becomes(lambda: search(staff, "archer"), ["ann"])
        await becomes(lambda: search(staff, "baker"), ["bob"])  # the projection may take them in two batches
        assert await search(staff, "ANN ARCH") == ["ann"]
        assert await search(staff, "201-3344") == ["ann"]
        assert await search(staff, "(555) 201 3344") == ["ann"]
        assert await search(staff, bob[-7:]) == ["bob"]
        assert await search(staff, "nobody by that name") == []
        hit = (await ok(await staff.as_user("alice", "GET", "/v1/contacts", params={"q": "Ann"})))["contacts"]
        assert hit == [{"id": "ann", "name": "Ann Archer", "kind": "client", "phones": [ann]}]
        assert await search(rival, "Archer") == [] and await search(rival, "2013344") == []

    async def test_a_deleted_contact_is_no_longer_found_by_its_number(self, staff):
        ann, bob = random_number(), random_number()
        await put_contact(staff, "ann", "Ann Archer", [ann])
        await put_contact(staff, "bob", "Bob Baker", [bob])
        await becomes(lambda: search(staff, ann[-7:]), ["ann"])
        assert (await staff.admin("DELETE", "/v1/contacts/ann")).status_code == 204
        await becomes(lambda: search(staff, ann[-7:]), [])
        assert "ann" not in await search(staff, ann[-4:])
        assert await search(staff, "archer") == [] and await search(staff, bob[-7:]) == ["bob"]
        assert await search(staff, "Bob\x00") == [] and await search(staff, "\x00" + bob[-7:]) == ["bob"]

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
