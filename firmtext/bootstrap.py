"""The composition root: the one place that turns Settings into connected objects.

Nothing connects at import; each process builds what it needs by calling these.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from adapters import pg_locks
from adapters.keystore import PostgresKeyStore
from adapters.sealer import AesGcmSealer, master_key_bytes
from adapters.unit_recorder import TOPIC as UNIT_RECORDER_TOPIC
from domain.texting import Texting
from firmtext.config import Settings

POOL_TIMEOUT = 10.0  # seconds a request waits for a database connection (then 503)


def eventsourcing_env(database_url: str, pool_size: int = 10) -> dict[str, str]:
    """eventsourcing's PostgreSQL settings, derived from one database URL."""
    info = conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        # Keeps a unit of work's new data keys and Idempotency-Key answers with its events.
        "APPLICATION_RECORDER_TOPIC": UNIT_RECORDER_TOPIC,
        "POSTGRES_DBNAME": info.get("dbname", "firmtext"),
        "POSTGRES_HOST": info.get("host", "127.0.0.1"),
        "POSTGRES_PORT": str(info.get("port", 5432)),
        "POSTGRES_USER": info.get("user", "firmtext"),
        "POSTGRES_PASSWORD": info.get("password", ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Waiting for a pooled connection gives up after 10 s (default 30): while PostgreSQL
        # is down the API answers 503 before the carrier's 15 s webhook timeout.
        "POSTGRES_CONNECT_TIMEOUT": str(int(POOL_TIMEOUT)),
        "CREATE_TABLE": "y",
        "AGGREGATE_CACHE_MAXSIZE": "2000",
    }


def database_url_of(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    # The cluster `firmtext infra start` runs under var/ (see firmtext/infra/postgres.py).
    return f"postgresql://firmtext@127.0.0.1:{settings.postgres_port}/firmtext"


def kafka_bootstrap_of(settings: Settings) -> str:
    from firmtext.infra.kafka import bootstrap_of  # every local node (FIRMTEXT_KAFKA_BROKERS)

    return settings.kafka_bootstrap or bootstrap_of(settings)


@dataclass
class Container:
    """Lazily built, process-wide collaborators for one set of Settings."""

    settings: Settings
    pool_size: int = 10

    @cached_property
    def database_url(self) -> str:
        return database_url_of(self.settings)

    @cached_property
    def kafka_bootstrap(self) -> str:
        return kafka_bootstrap_of(self.settings)

    @cached_property
    def pool(self) -> ConnectionPool:
        pool = ConnectionPool(self.database_url, min_size=1, max_size=self.pool_size, timeout=POOL_TIMEOUT,
                              kwargs={"autocommit": True}, open=False, name="firmtext")
        pool.open(wait=True, timeout=30)
        return pool

    @cached_property
    def sealer(self) -> AesGcmSealer:
        return AesGcmSealer(PostgresKeyStore(self.pool), master_key_bytes(self.settings.master_key))

    @cached_property
    def search_digests(self):
        """Keyed digests of the contact search index (the search projection's writer needs them)."""
        from adapters.search_index import SearchDigests

        return SearchDigests(self.sealer)

    @cached_property
    def texting(self) -> Texting:
        # Building it runs eventsourcing's CREATE … IF NOT EXISTS and CREATE OR REPLACE
        # FUNCTION; two processes replacing the function at once fail one of them ("tuple
        # concurrently updated"), so processes take turns (a session lock: the connection
        # closing releases it whatever happens). A wait past POOL_TIMEOUT is an
        # OperationalError (LockNotAvailable), answered 503 like an unreachable database.
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=int(POOL_TIMEOUT),
                             options=f"-c lock_timeout={int(POOL_TIMEOUT * 1000)}") as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (pg_locks.EVENT_STORE,))
            return Texting(self.sealer, env=eventsourcing_env(self.database_url, self.pool_size))

    @cached_property
    def reads(self):
        from adapters.http.read_models import ReadModels

        return ReadModels(self.pool, self.sealer)

    @cached_property
    def metrics(self):
        from adapters.http.metrics import ApiMetrics

        metrics = ApiMetrics()
        metrics.watch_relay(self.relay_report)
        metrics.watch_unknown_events(self.unknown_events)
        return metrics

    def unknown_events(self) -> list[dict]:
        """Events the projection worker skipped as unknown (projections/unknown.py)."""
        from projections.unknown import unknown_events

        with self.pool.connection(timeout=2) as conn:
            return unknown_events(conn)

    def relay_report(self):
        """The outbox relay's state as operators see it (streams/relay_health.py)."""
        from streams.relay_health import relay_report

        with self.pool.connection(timeout=2) as conn:
            return relay_report(conn, self.texting.recorder.max_notification_id() or 0)

    @cached_property
    def media_store(self):
        from adapters.media_store import FilesystemMediaStore

        return FilesystemMediaStore(self.settings.media_root, self.sealer)

    @cached_property
    def media_intake(self):
        from adapters.media_intake import MediaIntake

        return MediaIntake(self.settings, self.media_store, self.pool)

    @cached_property
    def committer(self):
        from domain.group_commit import GroupCommitter

        committer = GroupCommitter(self.texting, executors=self.settings.commit_executors)
        self.metrics.watch_group_commit(committer)
        return committer

    @cached_property
    def firms_by_number(self):
        from adapters.number_directory import FirmsByNumber

        return FirmsByNumber(self.texting.firm_for_number)

    async def run_sync(self, fn, *args):
        """Run blocking work (eventsourcing, psycopg) off the event loop."""
        return await asyncio.to_thread(fn, *args)

    def close(self) -> None:
        if "media_intake" in self.__dict__:
            try:
                asyncio.get_running_loop().create_task(self.media_intake.aclose())
            except RuntimeError:  # no loop running: nothing async to close politely
                pass
        if "texting" in self.__dict__:
            self.texting.close()
        if "pool" in self.__dict__:
            self.pool.close()


def api_app():
    """The HTTP API for this process's environment: uvicorn's factory
    (``uvicorn firmtext.bootstrap:api_app --factory``), one Container per worker process."""
    from adapters.http.app import create_app
    from firmtext.gc_tuning import settle

    app = create_app(Container(Settings.from_env(), pool_size=16))
    settle()  # built: what it holds now lives as long as the process
    return app
