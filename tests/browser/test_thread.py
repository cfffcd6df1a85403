"""A conversation in the browser: reply with Enter until "delivered", images that
enlarge, the composer's counter and its refusals, compose by name, hostile text."""
import re
import struct
import zlib

from playwright.async_api import expect

from tests.browser.conftest import open_inbox
from tests.e2e.harness import random_number


def png(width: int = 40, height: int = 30, rgb: bytes = b"\x0b\x7a\x75") -> bytes:
    """A small valid PNG of one colour (browsers refuse to draw the e2e tier's header-only one)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + rgb * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def open_thread(page, firm, phone: str, user: str = "alice"):
    conversation = await firm.conversation_with(phone, user)
    await open_inbox(page, firm, user)
    await page.locator(f"#conversation-list li[data-id='{conversation['id']}'] a").click()
    await expect(page.locator("#thread-title")).to_be_visible()
    return conversation


async def test_a_reply_sent_with_enter_reaches_delivered(page, firm):
    r = await firm.admin("PUT", "/v1/firm", {"name": "Test Law", "number": firm.number, "time_zone": "America/New_York"})
    assert r.status_code == 200
    client = random_number()
    await firm.text_in(client, "Can we move the meeting?")
    await open_thread(page, firm, client)
    box = page.get_by_label("Message (Enter sends, Shift+Enter adds a line)")
    await box.fill("Yes, Thursday 10am")
    await box.press("Shift+Enter")
    await box.type("in our office")
    await expect(page.locator("#composer-counter")).to_have_text("32 / 1,600 characters · 1 SMS segment")
    await box.press("Enter")
    sent = page.locator(".message.outbound", has_text="Yes, Thursday 10am")
    await expect(sent.locator(".body")).to_have_text("Yes, Thursday 10am\nin our office")
    await expect(sent.locator(".sender")).to_have_text("Alice")
    await expect(sent.locator("time")).to_have_text(re.compile(r"\d{1,2}:\d\d [AP]M E[SD]T$"))  # the firm's zone
    await expect(sent.locator(".status")).to_have_text("delivered", timeout=15000)
    await expect(box).to_have_value("")


async def test_a_live_update_never_takes_the_keyboard_from_someone_typing(page, firm):
    client = random_number()
    await firm.text_in(client, "first")
    await open_thread(page, firm, client)
    box = page.locator("#composer-body")
    await box.click()
    await page.keyboard.type("half a sent")
    await firm.text_in(client, "second, while you type")
    await expect(page.locator(".message.inbound .body").last).to_have_text("second, while you type")
    await page.keyboard.type("ence")  # the keyboard, not the test, decides where this goes
    await expect(box).to_have_value("half a sentence")


async def test_the_counter_counts_segments_and_stops_at_the_limit(page, firm):
    client = random_number()
    await firm.text_in(client, "hello")
    await open_thread(page, firm, client)
    box = page.locator("#composer-body")
    await box.fill("x" * 161)
    await expect(page.locator("#composer-counter")).to_have_text("161 / 1,600 characters · 2 SMS segments")
    await box.fill("é" * 10 + "😀")  # é is GSM; the emoji makes it UCS-2
    await expect(page.locator("#composer-counter")).to_have_text("11 / 1,600 characters · 1 SMS segment")
    await box.fill("x" * 1601)
    await expect(page.locator("#composer-counter")).to_have_class("counter over")
    await expect(page.get_by_role("button", name="Send")).to_be_disabled()
    await expect(page.locator("#sms-only")).to_have_text("Texting out is SMS only: images cannot be sent to clients.")


async def test_an_inbound_image_shows_a_thumbnail_that_enlarges(page, firm):
    client = random_number()
    await firm.text_in(client, "photo of the ticket", media=[(png(), "image/png")])
    await open_thread(page, firm, client)
    thumb = page.get_by_role("button", name="Enlarge image 1 of 1")
    await expect(thumb).to_be_visible(timeout=10000)
    await thumb.locator("img").evaluate("img => img.decode()")  # loads, and is a picture
    assert await thumb.locator("img").evaluate("img => img.naturalWidth") == 40
    await thumb.click()
    large = page.locator("#image-large")
    await expect(large).to_be_visible()
    await large.evaluate("img => img.decode()")
    link = await page.locator("#image-open").get_attribute("href")
    assert "/signed?" in link and "token" not in link  # no bearer token in any URL
    assert await page.locator("#image-open").get_attribute("target") == "_blank"
    await page.keyboard.press("Escape")
    await expect(large).to_be_hidden()


async def test_after_stop_the_composer_is_disabled(page, firm):
    client = random_number()
    await firm.text_in(client, "who is this?")
    await open_thread(page, firm, client)
    await expect(page.locator("#composer-body")).to_be_visible()
    await firm.text_in(client, "STOP")
    await expect(page.locator(".disabled-reason")).to_contain_text("replied STOP", timeout=5000)
    await expect(page.locator("#composer-body")).to_have_count(0)


async def test_compose_to_a_contact_found_by_name(page, firm):
    phone = random_number()
    r = await firm.admin("PUT", "/v1/contacts/c-dana", {"name": "Dana Whitfield", "kind": "client", "phones": [phone]})
    assert r.status_code == 200
    await open_inbox(page, firm)
    await page.get_by_role("link", name="Compose").click()
    await page.get_by_label("Search for a client or lead, or type a new phone number").fill("whitf")
    await page.get_by_role("button", name="Dana Whitfield").click()
    await expect(page.locator("#thread-title")).to_have_text("Dana Whitfield", timeout=5000)
    await page.locator("#composer-body").fill("Hello Dana, this is your lawyer's office.")
    await page.locator("#composer-body").press("Enter")
    await expect(page.locator(".message.outbound .body")).to_have_text("Hello Dana, this is your lawyer's office.")
    conversation = await firm.conversation_with(phone)
    assert [c["name"] for c in conversation["contacts"]] == ["Dana Whitfield"]


async def test_a_body_that_looks_like_markup_is_shown_as_text(page, firm):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    client, hostile = random_number(), "<img src=x onerror=alert(1)>"
    await firm.text_in(client, hostile)
    await open_thread(page, firm, client)
    await expect(page.locator(".message.inbound .body")).to_have_text(hostile)
    await expect(page.locator("#conversation-list .preview").first).to_have_text(hostile)
    assert await page.locator("img[src='x']").count() == 0
    assert dialogs == []
