"""The inbox page: sign-in from the fragment, the firm's number, live updates without
reload, the unread badge and the "Show only unread messages" toggle."""
import time

from playwright.async_api import expect

from tests.browser.conftest import inbox_url, open_inbox
from tests.e2e.harness import random_number


async def test_token_leaves_the_address_bar_and_stays_in_the_session(page, firm):
    await open_inbox(page, firm)
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('firmtext.token')")
    await page.reload()  # the session keeps the sign-in
    await expect(page.locator("#firm-number")).to_contain_text("texting number")


async def test_header_shows_the_firms_texting_number(page, firm):
    await open_inbox(page, firm)
    digits = firm.number[2:]
    await expect(page.locator("#firm-number")).to_contain_text(f"({digits[:3]}) {digits[3:6]}-{digits[6:]}")


async def test_a_client_text_appears_live_with_a_badge_and_the_unread_toggle_filters(page, firm):
    read_number, new_number = random_number(), random_number()
    await firm.text_in(read_number, "an older question")
    old = await firm.conversation_with(read_number)
    await firm.as_user("alice", "POST", f"/v1/conversations/{old['id']}/read")
    await open_inbox(page, firm)
    await expect(page.locator("#conversation-list li")).to_have_count(1)
    requests_before = len(await page.evaluate("performance.getEntriesByType('resource')"))

    started = time.monotonic()
    await firm.text_in(new_number, "Is my hearing still on Monday?")
    row = page.locator("#conversation-list li", has_text="Is my hearing still on Monday?")
    await expect(row).to_be_visible(timeout=2000)
    took = time.monotonic() - started
    await expect(row.locator(".badge")).to_have_text("1")
    assert took < 2.0, f"the text took {took:.2f}s to appear"
    assert page.url.endswith("#/inbox")  # no reload, no navigation
    assert len(await page.evaluate("performance.getEntriesByType('resource')")) > requests_before

    await page.get_by_label("Show only unread messages").check()
    await expect(page.locator("#conversation-list li")).to_have_count(1)
    await expect(page.locator("#conversation-list li")).to_contain_text("Is my hearing still on Monday?")
    await page.get_by_label("Show only unread messages").uncheck()
    await expect(page.locator("#conversation-list li")).to_have_count(2)


async def test_an_expired_token_gets_a_clear_message(page, firm):
    await page.goto(inbox_url(firm, ttl=-10))
    await expect(page.locator("#notice")).to_contain_text("Your session has expired")
    assert "token" not in page.url


async def test_without_the_texting_permission_one_sentence_explains(page, firm):
    await page.goto(inbox_url(firm, user="carol", perms=()))
    await expect(page.locator("#notice")).to_have_text(
        "You do not have the \u201cAdd/Edit Text Messaging\u201d permission, so you cannot read or send text messages.")
    await expect(page.locator("#conversation-list")).to_have_count(0)
