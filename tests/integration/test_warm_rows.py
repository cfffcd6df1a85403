"""The live writer's kept rows (projections/speculation.py): after a commit it keeps the
batch's rows and runs the next batch once against them. What it writes must be exactly
what a writer that reads everything afresh writes, and the kept rows must be dropped
whenever they may be stale: another writer moved the tracking, a rebuild swapped a
schema in, a batch failed."""
from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from firmtext.commands.migrate import apply_tables
from projections.base import Projection
from projections.registry import ALL
from projections.store import Table
from projections.writer import ProjectionWriter, ensure_schema
from domain.envelope import Event
from tests.integration.test_rebuild_writer import contents, realistic_log

TOTALS = Table("totals", ("id",), ("id", "total", "seen"), json=frozenset({"seen"}))


def _add(store, event):
    d = event.data
    if d.get("database_gone"):  # what the writer sees when PostgreSQL goes away mid-batch
        raise psycopg.OperationalError("the connection was lost")
    row = store.get(TOTALS, (d["id"],)) or {"id": d["id"], "total": 0, "seen": []}
    row["total"] += d["amount"]
    row["seen"].append(event.notification_id)  # changed in place, then put: the kept row must not share it
    store.put(TOTALS, row)


SUMS = Projection(name="warm_probe", tables=(TOTALS,), handlers={"Probe.Added": _add},
                  ddl="CREATE TABLE {schema}.totals (id text PRIMARY KEY, total int NOT NULL, seen jsonb NOT NULL);")


def _added(n: int, amount: int, id_: str = "a", **data) -> Event:
    return Event({"event_id": f"e{n}", "type": "Probe.Added", "notification_id": n, "firm_id": "f",
                  "stream_id": "s", "occurred_at": "2026-01-01T00:00:00+00:00",
                  "data": {"id": id_, "amount": amount, **data}}, partition=0, offset=n - 1)


@pytest.fixture
def conn(make_database):
    with psycopg.connect(make_database(), autocommit=True) as connection:
        apply_tables(connection)
        ensure_schema(connection, SUMS)
        yield connection


def totals(conn) -> dict[str, tuple[int, list]]:
    return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, total, seen FROM pj_warm_probe.totals")}


def test_a_batch_runs_once_on_the_kept_rows(conn):
    writer = ProjectionWriter(conn, [SUMS], keep_rows=True)
    writer.apply([_added(1, 1)])
    writer.apply([_added(2, 2), _added(3, 3, "b")])  # "b" is new: lacked, absent in PostgreSQL, so the run stands
    assert writer.runs == {"cold": 1, "warm": 1, "undone": 0}
    assert totals(conn) == {"a": (3, [1, 2]), "b": (3, [3])}


def test_past_the_bound_nothing_is_kept(conn, monkeypatch):
    monkeypatch.setattr("projections.writer.WARM_KEYS", 1)  # a batch of two rows is past it
    writer = ProjectionWriter(conn, [SUMS], keep_rows=True)
    writer.apply([_added(1, 1)])
    writer.apply([_added(2, 2), _added(3, 3, "b")])  # kept: one row, within the bound
    writer.apply([_added(4, 4)])  # not kept: two rows
    writer.apply([_added(5, 5)])
    assert writer.runs == {"cold": 2, "warm": 2, "undone": 0}
    assert totals(conn) == {"a": (12, [1, 2, 4, 5]), "b": (3, [3])}


def test_rows_another_writer_changed_are_read_again(conn):
    # A rebalance: another worker applies a batch of the partition between two of ours.
    ours, theirs = ProjectionWriter(conn, [SUMS], keep_rows=True), ProjectionWriter(conn, [SUMS], keep_rows=True)
    ours.apply([_added(1, 1)])
    theirs.apply([_added(2, 10)])
    ours.apply([_added(3, 100)])
    assert totals(conn) == {"a": (111, [1, 2, 3])}  # the kept row said 1: 101 without the tracking check
    # While the other writer keeps moving the tracking, batches run cold without first
    # running on the kept rows for nothing. Once a batch finds it unmoved, the next one
    # runs on them again.
    theirs.apply([_added(4, 1000)])
    for n in (5, 6, 7):
        ours.apply([_added(n, 10 ** (n - 1))])
    assert totals(conn)["a"][0] == 1111111
    assert ours.runs == {"cold": 4, "dropped": 1, "warm": 1, "undone": 0}


def test_a_schema_swapped_in_with_the_same_positions_is_read_again(conn):
    writer = ProjectionWriter(conn, [SUMS], keep_rows=True)
    writer.apply([_added(1, 1)])
    # A rebuild swaps in a schema at the very same position whose rows differ (the
    # projection's code changed, say): only the tracking table's oid tells them apart.
    conn.execute("CREATE SCHEMA warm_probe_rebuilt")
    conn.execute(SUMS.ddl.replace("{schema}", "warm_probe_rebuilt"))
    conn.execute("CREATE TABLE warm_probe_rebuilt.tracking (LIKE pj_warm_probe.tracking INCLUDING ALL)")
    conn.execute("INSERT INTO warm_probe_rebuilt.tracking SELECT * FROM pj_warm_probe.tracking")
    conn.execute("""INSERT INTO warm_probe_rebuilt.totals VALUES ('a', 50, '[1]')""")
    conn.execute("ALTER SCHEMA pj_warm_probe RENAME TO warm_probe_old")
    conn.execute("ALTER SCHEMA warm_probe_rebuilt RENAME TO pj_warm_probe")
    writer.apply([_added(2, 2)])
    assert totals(conn) == {"a": (52, [1, 2])}  # 3 from the kept row without the oid check


def test_a_failed_batch_keeps_nothing_of_what_it_ran(conn):
    writer = ProjectionWriter(conn, [SUMS], keep_rows=True)
    writer.apply([_added(1, 1)])
    # 2**40 does not fit the int column: PostgreSQL refuses the batch at the sync, after its
    # speculative run changed the kept row; the batch then goes event by event.
    writer.apply([_added(2, 2), _added(3, 2 ** 40), _added(4, 4)])
    writer.apply([_added(5, 5)])
    assert totals(conn) == {"a": (12, [1, 2, 4, 5])}
    assert conn.execute("SELECT notification_id FROM projection_failures WHERE projection = 'warm_probe'"
                        ).fetchall() == [(3,)]


def test_a_batch_that_raised_keeps_nothing_even_with_the_tracking_unmoved(conn):
    writer = ProjectionWriter(conn, [SUMS], keep_rows=True)
    writer.apply([_added(1, 1)])
    with pytest.raises(psycopg.OperationalError):  # the batch is retried later, on the same writer
        writer.apply([_added(2, 2), _added(3, 0, database_gone=True)])
    writer.apply([_added(2, 2)])
    assert totals(conn) == {"a": (3, [1, 2])}  # 5 if the rows the failed batch changed were kept


def test_an_undone_run_leaves_the_kept_rows_as_they_were(conn):
    # Row "b" is in PostgreSQL but not among the kept rows (a writer before this one made
    # it): the run that took it as absent is undone, "a" included, and run again.
    ProjectionWriter(conn, [SUMS], keep_rows=True).apply([_added(1, 7, "b")])
    writer = ProjectionWriter(conn, [SUMS], keep_rows=True)
    writer.apply([_added(2, 1)])
    writer.apply([_added(3, 2), _added(4, 3, "b"), _added(5, 4)])
    assert writer.runs == {"cold": 1, "warm": 1, "undone": 1}
    assert totals(conn) == {"a": (7, [2, 3, 5]), "b": (10, [1, 4])}


def live_pass(conn, prefix: str, batches: list[list[Event]], restart_at: int | None = None) -> list[ProjectionWriter]:
    projections = list(ALL.values())
    schemas = {p.name: f"{prefix}_{p.name}" for p in projections}
    for p in projections:
        ensure_schema(conn, p, schemas[p.name])
    writers = [ProjectionWriter(conn, projections, schemas=schemas, keep_rows=True)]
    for i, batch in enumerate(batches):
        if i == restart_at:  # a new process: nothing kept, the tables already full
            writers.append(ProjectionWriter(conn, projections, schemas=schemas, keep_rows=True))
        writers[-1].apply(batch)
    return writers


def test_kept_rows_write_exactly_what_reading_afresh_writes(database_url):
    """Realistic events (every projection, selects by columns, deletes, rows made and read
    again in one batch) in batches of uneven sizes: a writer that keeps its rows, and one
    that restarts halfway, end with the very rows and tracking of writers that read
    everything afresh for each batch."""
    events = realistic_log(3_000)
    sizes, batches, at = [1, 7, 60, 3, 400, 25, 150], [], 0
    while at < len(events):
        size = sizes[len(batches) % len(sizes)]
        batches.append(events[at:at + size])
        at += size
    with psycopg.connect(database_url, autocommit=True) as conn:
        projections = list(ALL.values())
        schemas = {p.name: f"afresh_{p.name}" for p in projections}
        for p in projections:
            ensure_schema(conn, p, schemas[p.name])
        for batch in batches:
            ProjectionWriter(conn, projections, schemas=schemas).apply(batch)
        kept = live_pass(conn, "kept", batches)
        restarted = live_pass(conn, "restarted", batches, restart_at=len(batches) // 2)
        assert kept[0].runs["warm"] > 10 * kept[0].runs["cold"]  # the kept rows were used
        assert restarted[1].runs["undone"] > 0  # and runs were undone after the restart
        assert contents(conn, "kept") == contents(conn, "afresh")
        # Speculative runs clone only JSON columns (PgStore, detached_row): no other column of
        # a kept row may hold a list or a dict.
        for store in kept[0]._warm.stores:
            for rows in store.memory.tables.values():
                table = next(t for p in projections for t in p.tables if t.columns == rows.columns)
                assert not [(table.name, c) for row in rows.by_key.values() for c, v in row.items()
                            if c not in table.json and isinstance(v, (list, dict))]
        assert contents(conn, "restarted") == contents(conn, "afresh")
        for prefix in ("afresh", "kept", "restarted"):
            for p in projections:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(f"{prefix}_{p.name}")))
