"""The browser tier: the web inbox in Debian's headless chromium, driven by Playwright,
against the whole stack (the fixtures in tests/conftest.py, shared with the e2e tier:
real Kafka, PostgreSQL, workers).

Playwright's own browser builds are never downloaded: the bootstrap installs chromium
with apt and we launch that binary.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.async_api import expect

from adapters.auth import issue_token


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if not found:
        pytest.fail("chromium is not installed: run `bash scripts/bootstrap.sh` as root (apt-get install chromium).")
    return found


@pytest.fixture(scope="session")
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser, settings):
    """A fresh browser profile (own sessionStorage), notifications allowed for the API's origin."""
    ctx = await browser.new_context(base_url=settings.public_url, viewport={"width": 1280, "height": 800})
    await ctx.grant_permissions(["notifications"], origin=settings.public_url)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context):
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.js_errors = errors
    yield opened
    assert not errors, f"the page raised: {errors}"


def inbox_url(firm, user: str = "alice", perms=("texting",), ttl: int = 3600) -> str:
    """What ``firmtext open`` prints, for a user of the test's firm."""
    return f"/app/#token={issue_token(firm.settings.jwt_secret, firm.firm_id, user, list(perms), ttl)}"


async def open_inbox(page, firm, user: str = "alice", **kwargs):
    """Open the page signed in as ``user`` and wait for the inbox list to be drawn."""
    await page.goto(inbox_url(firm, user, **kwargs))
    await page.wait_for_selector("body[data-screen='inbox'] #conversation-list", state="attached")
    await expect(page.locator("#firm-number")).not_to_be_empty()
    return page
