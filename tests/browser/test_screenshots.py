"""The README's pictures of the page: `FIRMTEXT_SCREENSHOTS=1 make browser
PYTEST_ARGS='-k screenshots'` writes docs/web-inbox.png and docs/web-thread.png."""
import os
import struct
import zlib
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_inbox
from tests.e2e.harness import eventually

DOCS = Path(__file__).resolve().parents[2] / "docs"
pytestmark = pytest.mark.skipif(os.environ.get("FIRMTEXT_SCREENSHOTS") != "1", reason="only to redraw the README's pictures")


def photo(width: int = 160, height: int = 120) -> bytes:
    """A PNG with a gradient, standing in for a client's photo."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"".join(bytes((40 + x, 90 + y // 2, 150)) for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_screenshots(browser, settings, firm):
    await firm.admin("PUT", "/v1/firm", {"name": "Whitfield & Moreno LLP", "number": firm.number,
                                         "time_zone": "America/New_York"})
    await firm.setup({"alice": {"name": "Alice Chen"}}, name="Whitfield & Moreno LLP")
    await firm.admin("PUT", "/v1/firm", {"name": "Whitfield & Moreno LLP", "number": firm.number,
                                         "time_zone": "America/New_York"})
    dana, ellis, unknown = "+15552010001", "+15552010002", "+15552010003"
    await firm.admin("PUT", "/v1/contacts/dana", {"name": "Dana Whitfield", "kind": "client", "phones": [dana]})
    await firm.admin("PUT", "/v1/contacts/ellis", {"name": "Ellis Moreno", "kind": "lead", "phones": [ellis]})
    await firm.admin("PUT", "/v1/cases/k1", {"name": "Whitfield v. Harbor Insurance", "contact_ids": ["dana"]})
    await firm.text_in(ellis, "Hi, I was referred by a friend. Do you handle tenant disputes?")
    await firm.text_in(unknown, "Is the office open on Saturday?")
    await firm.text_in(dana, "Is my hearing still on Monday?")
    conv = await firm.conversation_with(dana)
    await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages",
                       json={"body": "Yes: Monday 9am, courtroom 4. Please bring the repair invoices."})
    await firm.text_in(dana, "Here is the invoice from the garage.", media=[(photo(), "image/png")])

    async def settled():
        messages = await firm.messages(conv["id"])
        return len(messages) == 3 and messages[1]["status"] == "delivered" and messages[2]["media"]
    await eventually(settled, timeout=30)
    ellis_conv = await firm.conversation_with(ellis)
    await firm.as_user("alice", "POST", f"/v1/conversations/{ellis_conv['id']}/mute")

    context = await browser.new_context(base_url=settings.public_url, viewport={"width": 1100, "height": 640})
    page = await context.new_page()
    await open_inbox(page, firm)
    await expect(page.locator("#conversation-list li")).to_have_count(3)
    await page.screenshot(path=str(DOCS / "web-inbox.png"))
    await page.locator(f"#conversation-list li[data-id='{conv['id']}'] a").click()
    await expect(page.locator(".thumb img")).to_be_visible()
    await page.locator(".thumb img").evaluate("img => img.decode()")
    await expect(page.locator(f"#conversation-list li[data-id='{conv['id']}'] .badge")).to_have_count(0, timeout=10000)
    await page.locator("#composer-body").fill("Thank you, got it.")
    await page.screenshot(path=str(DOCS / "web-thread.png"))
    await context.close()
