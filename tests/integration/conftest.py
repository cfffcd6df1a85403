"""Fixtures shared by the integration tests."""
from __future__ import annotations

import pytest

from domain.texting import Texting
from firmtext.bootstrap import Container, eventsourcing_env
from firmtext.commands.migrate import migrate


@pytest.fixture
def two_processes(test_settings, make_database):
    """(settings, container, another Texting): a migrated database of its own, the
    container's event store, and a second one on the same database standing in for
    another process (its own aggregate cache)."""
    settings = test_settings.with_overrides(database_url=make_database())
    migrate(settings)
    container = Container(settings, pool_size=2)
    other = Texting(container.sealer, env=eventsourcing_env(container.database_url, 2))
    yield settings, container, other
    other.close()
    container.close()
