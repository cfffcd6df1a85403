"""The e2e tier's fixtures. mailbox, running, http, settings and firm live in
tests/conftest.py, shared with the browser tier so one session starts one stack; the seed
walkthrough's firms (tests/e2e/test_seed_*.py) are here."""
from __future__ import annotations

import pytest

from tests.e2e.harness import Firm

STAFF = {"alice": {}, "bob": {}, "carol": {"permissions": []}}


@pytest.fixture
async def staff(settings, http) -> Firm:
    """A fresh firm: alice and bob may text, carol may not."""
    return await Firm(settings, http).setup(users=STAFF, name="Archer & Baker LLP")


@pytest.fixture
async def rival(settings, http) -> Firm:
    """Another firm on the same deployment."""
    return await Firm(settings, http).setup(users={"alice": {}}, name="Rival Law")
