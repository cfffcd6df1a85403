"""Conversation actions in the browser, each as the seed's rules say: the bell mutes
for me, leave takes it off my inbox only, archive off everyone's, block (after its
warning) deletes it; print shows the whole conversation; contact and case pages."""
import asyncio

from playwright.async_api import expect

from tests.browser.conftest import open_inbox
from tests.browser.test_thread import open_thread
from tests.e2e.harness import eventually, random_number


def row(page, conversation):
    return page.locator(f"#conversation-list li[data-id='{conversation['id']}']")


async def test_the_bell_mutes_and_unmutes_for_me(page, firm):
    client = random_number()
    await firm.text_in(client, "a question")
    conversation = await open_thread(page, firm, client)
    await page.get_by_role("button", name="Mute", exact=True).click()
    await expect(row(page, conversation).get_by_role("img", name="Notifications muted")).to_be_visible()
    await expect(page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    await page.get_by_role("button", name="Unmute").click()
    await expect(row(page, conversation).get_by_role("img", name="Notifications muted")).to_have_count(0)


async def test_leave_removes_it_from_my_inbox_only(page, firm):
    await firm.setup({"alice": {}, "bob": {}})
    client = random_number()
    await firm.text_in(client, "hello firm")
    conversation = await open_thread(page, firm, client)
    await page.get_by_role("button", name="Leave").click()
    await expect(row(page, conversation)).to_have_count(0)
    await expect(page.locator("#notice")).to_contain_text("You left the conversation")
    assert any(c["id"] == conversation["id"] for c in await firm.inbox("bob"))


async def test_archive_removes_it_from_everyones_inbox(page, firm):
    await firm.setup({"alice": {}, "bob": {}})
    client = random_number()
    await firm.text_in(client, "case closed, thanks")
    conversation = await open_thread(page, firm, client)
    await page.get_by_role("button", name="Archive").click()
    await expect(row(page, conversation)).to_have_count(0)

    async def off_bobs_inbox():
        return all(c["id"] != conversation["id"] for c in await firm.inbox("bob"))
    await eventually(off_bobs_inbox, timeout=10)


async def test_block_asks_with_the_warning_then_deletes_the_conversation(page, firm):
    client = random_number()
    await firm.text_in(client, "spam spam")
    conversation = await open_thread(page, firm, client)
    await page.get_by_role("button", name="Block").click()
    dialog = page.locator("#block-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("The conversation will be permanently deleted, and firm users will no "
                                         "longer be notified on incoming texts.")
    await expect(dialog).to_contain_text("Text threads deleted by blocking the contact cannot be recovered")
    await page.get_by_role("button", name="Cancel").click()  # changing one's mind keeps everything
    await expect(dialog).to_be_hidden()
    await expect(row(page, conversation)).to_have_count(1)
    await page.get_by_role("button", name="Block").click()
    await page.get_by_role("button", name="Block this number").click()
    await expect(row(page, conversation)).to_have_count(0)
    r = await firm.as_user("alice", "GET", f"/v1/conversations/{conversation['id']}")
    assert r.status_code == 404


async def test_print_shows_every_message_of_a_200_message_conversation(page, firm):
    client = random_number()
    bodies = [f"message number {n + 1}" for n in range(200)]
    for start in range(0, 200, 10):  # ten at a time: quicker, and the order among them does not matter here
        await asyncio.gather(*(firm.text_in(client, body) for body in bodies[start:start + 10]))

    async def all_there():
        conv = await firm.conversation_with(client)
        r = await firm.as_user("alice", "GET", f"/v1/conversations/{conv['id']}/messages", params={"limit": 200})
        return len(r.json()["messages"]) == 200 and conv
    await eventually(all_there, timeout=60)
    await page.add_init_script("window.print = () => { window.printed = (window.printed || 0) + 1; };")
    await open_thread(page, firm, client)
    await expect(page.locator("#detail-pane .message")).to_have_count(50)  # the thread pages as you scroll
    await page.get_by_role("button", name="Print").click()
    await page.wait_for_function("() => window.printed === 1")
    await page.emulate_media(media="print")
    printed = page.locator("#print-view .message")
    await expect(printed).to_have_count(200)
    await expect(printed.first).to_be_visible()
    assert sorted(await printed.locator(".body").all_inner_texts()) == sorted(bodies)
    await expect(page.locator("#inbox-pane")).to_be_hidden()


async def test_older_messages_load_while_scrolling_up(page, firm):
    client = random_number()
    for n in range(60):
        await firm.text_in(client, f"note {n + 1}")

    async def all_there():
        conv = await firm.conversation_with(client)
        return len(await firm.messages(conv["id"], limit=100)) == 60
    await eventually(all_there, timeout=30)
    await open_thread(page, firm, client)
    await expect(page.locator("#detail-pane .message")).to_have_count(50)
    await page.locator("#detail-pane ol.messages").evaluate("list => list.scrollTop = 0")
    await expect(page.locator("#detail-pane .message")).to_have_count(60)
    await expect(page.locator("#detail-pane .message .body").first).to_have_text("note 1")


async def test_contact_and_case_pages_list_their_conversations(page, firm):
    phone = random_number()
    await firm.admin("PUT", "/v1/contacts/c-ellis", {"name": "Ellis Moreno", "kind": "lead", "phones": [phone]})
    await firm.admin("PUT", "/v1/cases/k-1", {"name": "Moreno v. Acme", "contact_ids": ["c-ellis"]})
    await firm.text_in(phone, "about my case")
    await open_thread(page, firm, phone)
    await page.get_by_role("link", name="Case: Moreno v. Acme").click()
    await expect(page.locator("#linked-title")).to_have_text("Case: Moreno v. Acme")
    await expect(page.locator("#detail-pane .conversations li")).to_contain_text("about my case")
    await page.goto(page.url.replace("#/case/k-1", "#/contact/c-ellis"))
    await expect(page.locator("#linked-title")).to_have_text("Contact: Ellis Moreno")
    await expect(page.locator("#detail-pane .conversations li")).to_have_count(1)
