"""The inbox at scale (2,000 conversations: first page within 1 s, never a request per
row), on a 360 px phone, and with the keyboard alone."""
import asyncio
import time
import uuid

from playwright.async_api import expect

from tests.browser.conftest import inbox_url, open_inbox
from adapters.simulated_handset import post_signed
from tests.e2e.harness import eventually, random_number


async def two_thousand_clients_text(firm, count: int = 2000) -> None:
    """Carrier webhooks straight from the test (signed, 64 in flight), then wait for the inbox."""
    url = firm.settings.public_url + "/webhooks/twilio/messages"
    gate = asyncio.Semaphore(64)

    async def text(n: int) -> None:
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": firm.settings.twilio_account_sid,
                "From": f"+1555{n:07d}", "To": firm.number, "Body": f"question {n}", "NumMedia": "0"}
        async with gate:
            r = await post_signed(firm.http, firm.settings.twilio_auth_token, url, form)
        assert r.status_code == 200, r.text
    started = time.monotonic()
    await asyncio.gather(*(text(n) for n in range(count)))
    print(f"webhooks {time.monotonic() - started:.1f}s")

    async def all_projected():
        seen, cursor = 0, None
        while True:
            page = (await firm.as_user("alice", "GET", "/v1/inbox", params={"limit": 200, **(
                {"cursor": cursor} if cursor else {})})).json()
            seen += len(page["conversations"])
            if not (cursor := page["next_cursor"]):
                return seen >= count
    await eventually(all_projected, timeout=90, interval=1.0)
    print(f"projected {time.monotonic() - started:.1f}s")


async def test_two_thousand_conversations_show_their_first_page_within_a_second(page, firm):
    await two_thousand_clients_text(firm)

    requests = []
    page.on("request", lambda r: requests.append(r.url))
    await page.goto(inbox_url(firm))  # warm the browser's cache of the page's own files
    await expect(page.locator("#conversation-list li")).to_have_count(50)
    requests.clear()
    await page.goto("about:blank")
    started = time.monotonic()
    await page.goto(inbox_url(firm))
    await expect(page.locator("#conversation-list li").first).to_be_visible(timeout=5000)
    took = time.monotonic() - started
    await expect(page.locator("#conversation-list li")).to_have_count(50)
    api = [u for u in requests if "/v1/" in u]
    timings = await page.evaluate("""() => performance.getEntriesByType('resource')
        .map(e => `${e.name.split('/').slice(3).join('/').split('?')[0]} ${e.startTime.toFixed(0)}+${e.duration.toFixed(0)}ms`)""")
    print(f"first page {took:.3f}s", timings)
    assert took < 1.0, f"first page after {took:.2f}s: {timings}"
    assert len(api) <= 6, api  # me, firm, users, inbox, the live stream: never one per row
    assert not [u for u in api if "/v1/conversations/" in u or "/v1/media/" in u], api
    await page.get_by_role("button", name="Show more conversations").click()
    await expect(page.locator("#conversation-list li")).to_have_count(100)


async def test_a_360_px_phone_shows_the_list_then_the_thread(browser, settings, firm):
    context = await browser.new_context(base_url=settings.public_url, viewport={"width": 360, "height": 740},
                                        is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        client = random_number()
        await firm.text_in(client, "sent from my phone")
        await firm.conversation_with(client)
        await open_inbox(page, firm)
        await expect(page.locator("#detail-pane")).to_be_hidden()
        await page.locator("#conversation-list a").first.tap()
        await expect(page.locator("#inbox-pane")).to_be_hidden()
        box = page.locator("#composer-body")
        await expect(box).to_be_visible()
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, f"the page is {width}px wide: it scrolls sideways"
        await page.get_by_role("link", name="Inbox").tap()
        await expect(page.locator("#conversation-list")).to_be_visible()
    finally:
        await context.close()


async def test_the_keyboard_alone_opens_a_thread_and_sends(page, firm):
    client = random_number()
    await firm.text_in(client, "keyboard please")
    await firm.conversation_with(client)
    await open_inbox(page, firm)
    for _ in range(20):  # Tab until the conversation's link has focus
        await page.keyboard.press("Tab")
        if await page.evaluate("() => !!document.activeElement.closest('#conversation-list')"):
            break
    await page.keyboard.press("Enter")
    await expect(page.locator("#thread-title")).to_be_visible()
    await page.locator("#composer-body").focus()
    await page.keyboard.type("typed without a mouse")
    await page.keyboard.press("Enter")
    await expect(page.locator(".message.outbound .body")).to_have_text("typed without a mouse")
    unlabelled = await page.evaluate("""() => [...document.querySelectorAll('button, input, select, textarea, a')]
        .filter(e => e.offsetParent !== null && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                     && !e.textContent.trim())
        .map(e => e.outerHTML)""")
    assert unlabelled == []
