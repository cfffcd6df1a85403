"""Two live writers on one partition (a rebalance hands it to a second worker while the
first is still applying a batch): each event is applied exactly once all the same."""
import threading

import psycopg

from firmtext.commands.migrate import apply_tables
from projections.base import Projection
from projections.store import Table
from projections.writer import ProjectionWriter, ensure_schema, tracked
from domain.envelope import Event

COUNT = Table("count", ("id",), ("id", "n"))
paused, go = threading.Event(), threading.Event()


def _counted(store, event):
    if threading.current_thread().name == "first" and event.notification_id == 1:
        paused.set()  # the first writer is inside its transaction, nothing committed yet
        go.wait(10)
    row = store.get(COUNT, ("c",)) or {"id": "c", "n": 0}
    row["n"] += 1
    store.put(COUNT, row)


COUNTER = Projection(name="count_probe", tables=(COUNT,), ddl="CREATE TABLE {schema}.count (id text PRIMARY KEY, "
                     "n int NOT NULL);", handlers={"Probe.Counted": _counted})


def _events(*ids: int) -> list[Event]:
    return [Event({"event_id": f"e{n}", "type": "Probe.Counted", "notification_id": n, "firm_id": "f",
                   "stream_id": "s", "occurred_at": "2026-01-01T00:00:00+00:00", "data": {}},
                  partition=0, offset=n - 1) for n in ids]


def test_a_partition_applied_by_two_writers_at_once_counts_every_event_once(make_database):
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        apply_tables(conn)
        ensure_schema(conn, COUNTER)

    def run(batches):
        with psycopg.connect(url, autocommit=True) as conn:
            writer = ProjectionWriter(conn, [COUNTER])
            for batch in batches:
                writer.apply(batch)

    first = threading.Thread(target=run, args=([_events(1, 2, 3)],), name="first")
    second = threading.Thread(target=run, args=([_events(1, 2, 3), _events(4, 5)],), name="second")
    first.start()
    assert paused.wait(10)
    second.start()
    second.join(1.0)  # without the partition lock it would finish (and be overwritten) now
    go.set()
    first.join(10)
    second.join(10)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM pj_count_probe.count").fetchone()[0] == 5
        assert tracked(conn, "pj_count_probe")[0] == (5, 4)
