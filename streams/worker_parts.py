"""The worker's parts over PostgreSQL (streams/agents.py, WorkerParts): the projection
writer, the send recorder and the sending lanes, each on a connection of its own, made
on first use and made again after PostgreSQL restarted under it."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import psycopg

from firmtext.config import Settings
from projections.registry import ALL
from projections.writer import ProjectionWriter
from streams.agents import WorkerParts
from streams.dispatch import REQUESTED, record_requests, sender_offsets

if TYPE_CHECKING:  # built by the composition root (firmtext/commands/worker.py)
    from firmtext.bootstrap import Container

TRACK_EVERY = 1.0  # seconds: how stale the sender's position may be when batches request nothing


class PostgresParts:
    def __init__(self, settings: Settings, container: "Container") -> None:
        self.settings, self.container = settings, container
        self.state: dict = {}
        self.making = threading.Lock()

    def _lost(self, name: str) -> bool:
        """True if ``name``'s connection was never made or died (PostgreSQL restarted): an
        agent retrying after such a failure must connect again, not reuse a dead one."""
        conn = self.state.get(f"{name}_conn")
        return conn is None or conn.closed or conn.broken

    def writer(self) -> ProjectionWriter:
        if self._lost("writer"):
            self.state["writer_conn"] = conn = psycopg.connect(self.container.database_url, autocommit=True)
            self.state["writer"] = ProjectionWriter(conn, list(ALL.values()), keys=self.container.search_digests)
        return self.state["writer"]

    def sending(self):
        """(connection the send agent records on, the sending lanes), made on first use
        (by the send agent or the lanes' task, whichever comes first: hence the lock)."""
        with self.making:
            if "lanes" not in self.state:
                from streams.send_lanes import sending_lanes

                self.state["lanes"] = sending_lanes(self.settings, self.container)
            if self._lost("recorder"):  # first use, or PostgreSQL restarted under it
                self.state["recorder_conn"] = psycopg.connect(self.container.database_url, autocommit=True)
        return self.state["recorder_conn"], self.state["lanes"]

    def project(self, events) -> int:
        return self.writer().apply(events)

    def record(self, events) -> None:
        recorder, lanes = self.sending()
        # The position of batches that request nothing is written at most every TRACK_EVERY s.
        track = time.monotonic() - self.state.get("tracked_at", 0.0) >= TRACK_EVERY
        if record_requests(recorder, self.container.texting, events, track=track):
            lanes.wake()
        if track or any(e.type == REQUESTED for e in events):
            self.state["tracked_at"] = time.monotonic()

    def positions(self) -> tuple[dict[int, int], dict[int, int]]:
        """(projections, sender): partition -> next offset each needs, from PostgreSQL.
        A connection of its own: the writer's may be inside a batch's transaction right
        now (in another thread), whose uncommitted tracking must not decide where to seek."""
        with psycopg.connect(self.container.database_url, autocommit=True) as conn:
            return (ProjectionWriter(conn, list(ALL.values()), keys=self.container.search_digests).resume_offsets(),
                    sender_offsets(conn))

    async def run_lanes(self) -> None:
        import asyncio

        await (await asyncio.to_thread(self.sending))[1].run()

    def parts(self) -> WorkerParts:
        return WorkerParts(project=self.project, record=self.record, positions=self.positions,
                           run_lanes=self.run_lanes)
