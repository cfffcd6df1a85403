"""Desktop notifications and "My Notifications" in the browser: the user's own
preference, the browser's Notification API, silence for a muted conversation."""
import asyncio

from playwright.async_api import expect

from tests.browser.conftest import open_inbox
from tests.e2e.harness import eventually, random_number

# Record every desktop notification the page creates (the headless browser shows none).
RECORD = """
window.shown = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) { super(title, options); window.shown.push({title, body: (options || {}).body}); }
};
window.Notification.requestPermission = Real.requestPermission.bind(Real);
Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
"""


async def shown(page) -> list[dict]:
    return await page.evaluate("() => window.shown")


async def test_my_notifications_enables_desktop_ones_and_a_muted_conversation_stays_silent(page, firm):
    await page.add_init_script(RECORD)
    muted_client, other_client = random_number(), random_number()
    await firm.text_in(muted_client, "first contact")  # a conversation alice will mute
    muted = await firm.conversation_with(muted_client)
    await open_inbox(page, firm)
    await page.get_by_role("link", name="My Notifications").click()
    await expect(page.get_by_label("Desktop notifications")).to_have_value("none")
    await page.get_by_label("Desktop notifications").select_option("clients")
    await expect(page.locator(".settings .notice")).to_have_text("Saved. It applies from the next text.")
    r = await firm.as_user("alice", "GET", "/v1/me")
    assert r.json()["notify"] == {"email": "none", "desktop": "clients"}

    await firm.as_user("alice", "POST", f"/v1/conversations/{muted['id']}/mute")

    async def preference_applied():  # the worker applies the change to the next text
        await firm.text_in(other_client, "are you there?")
        await asyncio.sleep(1.0)
        return any(n["body"] == "are you there?" for n in await shown(page))
    await eventually(preference_applied, timeout=20, interval=0)
    assert any(n["title"].startswith("New text message from") for n in await shown(page))

    await firm.text_in(muted_client, "this one is muted")
    await firm.text_in(other_client, "and this one is not")
    await page.wait_for_function("() => window.shown.some(n => n.body === 'and this one is not')", timeout=5000)
    await asyncio.sleep(0.5)  # same worker batch or later: the muted one would have come by now
    assert all(n["body"] != "this one is muted" for n in await shown(page))


async def test_blocked_browser_permission_is_explained(browser, settings, firm):
    context = await browser.new_context(base_url=settings.public_url)
    try:
        page = await context.new_page()
        await page.add_init_script("Object.defineProperty(Notification, 'permission', { get: () => 'denied' });")
        await open_inbox(page, firm)
        await page.goto(page.url.replace("#/inbox", "#/settings"))
        await page.get_by_label("Desktop notifications").select_option("both")
        await expect(page.locator(".settings .notice")).to_contain_text(
            "Your browser blocks notifications from this site")
    finally:
        await context.close()
