"""Seed, "Managing Notifications & the Inbox": mute, leave, archive, unread, paging."""
from tests.e2e.harness import Firm, random_number
from tests.e2e.seed_steps import (
    act, becomes, conversation, inbox_entry, inbox_ids, ok, refused, send, thread)


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
