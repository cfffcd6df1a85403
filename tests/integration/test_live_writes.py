"""The live writer's write phase (projections/pg_store.py ``flush``, projections/writer.py
``_apply_live``): each table's rows go in as one JSON parameter, the transaction is
spelled out inside one pipeline. What a batch leaves behind when a row cannot go that
way, and when PostgreSQL refuses a row at the sync."""
from decimal import Decimal

import psycopg
import pytest

from firmtext.commands.migrate import apply_tables
from projections.base import Projection
from projections.store import Table
from projections.writer import ProjectionWriter, ensure_schema, tracked
from domain.envelope import Event

TALLIES = Table("tallies", ("id",), ("id", "amount", "detail"), json=frozenset({"detail"}))


def _tally(store, event):
    amount = event.data["amount"]
    # A Decimal is what a handler doing arithmetic on money might hand over: orjson
    # cannot encode it, psycopg can.
    store.put(TALLIES, {"id": event.data["id"], "amount": Decimal(amount) if event.data.get("decimal") else amount,
                        "detail": event.data.get("detail")})


PROBE = Projection(name="live_write_probe", tables=(TALLIES,), handlers={"Probe.Tallied": _tally},
                   ddl="CREATE TABLE {schema}.tallies (id text PRIMARY KEY, amount int NOT NULL, detail jsonb);")


def _event(n: int, **data) -> Event:
    return Event({"event_id": f"e{n}", "type": "Probe.Tallied", "notification_id": n, "firm_id": "f",
                  "stream_id": "s", "occurred_at": "2026-01-01T00:00:00+00:00",
                  "data": {"id": f"t{n}", **data}}, partition=0, offset=n - 1)


@pytest.fixture
def conn(make_database):
    # A database of its own: the failures below must reach no other test's tables.
    with psycopg.connect(make_database(), autocommit=True) as connection:
        apply_tables(connection)
        ensure_schema(connection, PROBE)
        yield connection


def rows(conn) -> list[tuple]:
    return conn.execute("SELECT id, amount, detail::text FROM pj_live_write_probe.tallies ORDER BY id").fetchall()


def test_rows_orjson_cannot_encode_are_written_row_by_row(conn):
    ProjectionWriter(conn, [PROBE]).apply([_event(1, amount=5, decimal=True), _event(2, amount=7)])
    assert rows(conn) == [("t1", 5, "null"), ("t2", 7, "null")]  # a JSON null stays the JSON value null


def test_a_row_postgresql_refuses_rolls_the_batch_back_and_only_its_event_is_set_aside(conn):
    writer = ProjectionWriter(conn, [PROBE])
    # 2**40 does not fit an int column: PostgreSQL refuses the batch's one upsert at the
    # sync, after everything else of the transaction was sent.
    writer.apply([_event(1, amount=1, detail={"k": [1]}), _event(2, amount=2 ** 40), _event(3, amount=3)])
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert rows(conn) == [("t1", 1, '{"k": [1]}'), ("t3", 3, "null")]
    failures = conn.execute("SELECT notification_id, error FROM projection_failures "
                            "WHERE projection = 'live_write_probe'").fetchall()
    assert [(n, error.split(":")[0]) for n, error in failures] == [(2, "NumericValueOutOfRange")]
    assert tracked(conn, "pj_live_write_probe") == {0: (3, 2)}
    writer.apply([_event(4, amount=4)])  # the connection goes on
    assert [r[0] for r in rows(conn)] == ["t1", "t3", "t4"]


def test_a_python_failure_halfway_leaves_no_transaction_open(conn):
    writer = ProjectionWriter(conn, [PROBE])
    writer.apply([_event(1, amount=1), _event(2), _event(3, amount=3)])  # event 2 lacks its amount: KeyError
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert [r[0] for r in rows(conn)] == ["t1", "t3"]
    assert tracked(conn, "pj_live_write_probe") == {0: (3, 2)}


def test_a_batch_inside_a_callers_transaction_is_a_savepoint_of_it(conn):
    # The rebuild's swap catches the rebuilt schemas up inside the transaction that holds
    # SWAP_LOCK (projections/rebuild/swap.py): a COMMIT of its own would let live batches in
    # before the renames, and their events would be lost with the old tables.
    with psycopg.connect(conn.info.dsn, password=conn.info.password) as theirs:  # not autocommit
        theirs.execute("SELECT 1")  # their transaction is open
        ProjectionWriter(theirs, [PROBE]).apply([_event(1, amount=1)])
        assert theirs.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert rows(conn) == []  # nothing committed behind their back
        theirs.rollback()
    assert rows(conn) == [] and tracked(conn, "pj_live_write_probe") == {}


def test_rows_past_the_payload_bound_go_in_several_statements_and_all_arrive(conn, monkeypatch):
    import projections.pg_store as pg_store

    monkeypatch.setattr(pg_store, "PAYLOAD_BYTES", 120)  # a few rows per statement
    ProjectionWriter(conn, [PROBE]).apply([_event(n, amount=n, detail={"n": "x" * n}) for n in range(1, 21)])
    assert [(r[0], r[1]) for r in rows(conn)] == sorted((f"t{n}", n) for n in range(1, 21))
    assert conn.execute("SELECT count(*) FROM projection_failures").fetchone()[0] == 0
