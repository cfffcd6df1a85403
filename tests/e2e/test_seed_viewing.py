"""Seed, "Viewing Text Message Conversations": inbox, contact and case pages, live links, tenancy."""
from tests.e2e.harness import Firm, random_number
from tests.e2e.seed_steps import (
    becomes, bodies, compose, conversation, inbox_entry, inbox_ids, links, listed, ok, put_case,
    put_contact, refused, thread)


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
