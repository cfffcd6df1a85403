import httpx
import pytest

from tests.e2e.harness import Firm
from tests.mailbox import Mailbox


@pytest.fixture(scope="session")
def mailbox(test_settings):
    """A real SMTP server on the stack's smtp_port, up before the stack starts."""
    box = Mailbox(test_settings.smtp_port).start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def running(stack, mailbox):
    """The whole stack (migrate, simulator, api, relay, worker) for the session."""
    return stack()


@pytest.fixture
async def http(running):
    async with httpx.AsyncClient(base_url=running.settings.public_url, timeout=30) as client:
        yield client


@pytest.fixture
def settings(running):
    return running.settings


@pytest.fixture
async def firm(settings, http) -> Firm:
    """A fresh firm with one texting user, alice."""
    return await Firm(settings, http).setup()
