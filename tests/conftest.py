"""Shared fixtures for the integration and end-to-end tiers.

Nothing here is autouse: unit tests (tests/unit) never start or reach a server.
`make test` starts Kafka and PostgreSQL first (var/test, ports 29092/29093 and
25433); plain `pytest` works too, because the fixtures call ensure_*, which start
the servers from the environment's settings or reuse the running ones.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest

from firmtext.config import Settings


def pytest_configure(config: pytest.Config) -> None:
    # The suite runs on the public development secrets (as `make test` says explicitly);
    # a plain `pytest` must too. Tests of the refusal pass their own environment.
    os.environ.setdefault("FIRMTEXT_ENV", "development")
    config.addinivalue_line("markers", "slow: takes more than a few seconds (crash/restart drills)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The tier follows the directory, so `-m integration` / `-m e2e` need no decorators.
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in ("integration", "e2e"):
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def infra_settings() -> Settings:
    """Settings exactly as the environment gives them (the servers' own settings)."""
    return Settings.from_env()


@pytest.fixture(scope="session")
def kafka_bootstrap(infra_settings: Settings) -> str:
    """Bootstrap servers of the (started or reused) Kafka."""
    from firmtext.infra.kafka import ensure_kafka

    return ensure_kafka(infra_settings)


@pytest.fixture(scope="session")
def postgres_server_url(infra_settings: Settings) -> str:
    """URL of the maintenance database ``postgres`` on the (started or reused) cluster."""
    from firmtext.infra.postgres import ensure_postgres

    return ensure_postgres(infra_settings, database="postgres")


@pytest.fixture(scope="session")
def make_database(postgres_server_url: str) -> Iterator[Callable[[], str]]:
    """Factory: a fresh empty database ``ft_<hex>`` per call (URL); all dropped at the end."""
    from firmtext.infra.postgres import create_database, drop_database

    names: list[str] = []

    def make() -> str:
        name = f"ft_{uuid.uuid4().hex[:12]}"
        names.append(name)
        return create_database(postgres_server_url, name)

    yield make
    for name in names:
        drop_database(postgres_server_url, name)


@pytest.fixture(scope="session")
def database_url(make_database: Callable[[], str]) -> str:
    """The session's own fresh database."""
    return make_database()


@pytest.fixture(scope="session")
def test_settings(infra_settings: Settings, database_url: str, kafka_bootstrap: str) -> Settings:
    """Settings for code under test: the session's database, a fresh topic and app id,
    free ports for the API, the simulator and SMTP, a fast carrier (50 messages/s) whose
    lost status callbacks are followed up after 2 s,
    media files under ``<var>/media/<hex>``."""
    from firmtext.infra.daemon import free_port

    token = uuid.uuid4().hex[:12]
    http_port, simulator_port = free_port(), free_port()
    return infra_settings.with_overrides(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        events_topic=f"firmtext.events.{token}",
        app_id=f"firmtext-{token}",
        http_port=http_port,
        public_url=f"http://127.0.0.1:{http_port}",
        simulator_port=simulator_port,
        twilio_api_base=f"http://127.0.0.1:{simulator_port}",
        carrier_rate_per_second=50.0,
        status_follow_up_seconds=2.0,  # a lost status callback is made up for within seconds
        smtp_port=free_port(),  # the e2e mailbox listens here; never a developer's own relay
        media_dir=Path(infra_settings.var_dir) / "media" / token,
    )


@pytest.fixture(scope="session")
def stack(test_settings: Settings) -> Iterator[Callable[..., "Stack"]]:  # noqa: F821
    """Factory ``stack(components=COMPONENTS, settings=None, **stack_kwargs) -> Stack``.

    Starts the components for ``test_settings`` (or ``settings``) and returns the
    running Stack; the same arguments again return the same Stack (restarting any
    component that died). Every Stack is stopped at the end of the session; a test
    may call ``.stop()`` earlier. Logs: ``<var>/logs/<app id>/<component>.log``.
    """
    from firmtext.infra.stack import COMPONENTS, Stack

    started: dict[tuple, Stack] = {}

    def start(components: Sequence[str] = COMPONENTS, settings: Settings | None = None, **kwargs) -> Stack:
        chosen = settings or test_settings
        # Settings holds a dict (unhashable), hence repr() as the identity.
        key = (tuple(components), repr(chosen), repr(sorted(kwargs.items())))
        if key in started:
            running = started[key]
            for name in running.exited():
                running.restart(name)
            return running
        kwargs.setdefault("log_dir", Path(chosen.var_dir) / "logs" / chosen.app_id)
        running = Stack(chosen, **kwargs)
        running.start(components)
        started[key] = running
        return running

    yield start
    for running in reversed(list(started.values())):
        running.stop()


# -- The whole stack, shared by the e2e and browser tiers ---------------------------
# Here, not in tests/e2e/conftest.py, so that both tiers in one session share one
# stack and one mailbox (a fixture imported into two conftests would start twice).

@pytest.fixture(scope="session")
def mailbox(test_settings):
    """A real SMTP server on the stack's smtp_port, up before the stack starts."""
    from tests.mailbox import Mailbox

    box = Mailbox(test_settings.smtp_port).start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def running(stack, mailbox):
    """The whole stack (migrate, simulator, api, relay, worker) for the session."""
    return stack()


@pytest.fixture
async def http(running):
    import httpx

    async with httpx.AsyncClient(base_url=running.settings.public_url, timeout=30) as client:
        yield client


@pytest.fixture
def settings(running):
    return running.settings


@pytest.fixture
async def firm(settings, http) -> "Firm":  # noqa: F821
    """A fresh firm with one texting user, alice."""
    from tests.e2e.harness import Firm

    return await Firm(settings, http).setup()
