"""A poison event is set aside, recorded, and does not stop the events around it."""
import psycopg

from firmtext.commands.migrate import apply_tables
from projections.base import Projection
from projections.store import Table
from projections.writer import ProjectionWriter, ensure_schema, tracked
from domain.envelope import Event

NOTES = Table("notes", ("id",), ("id", "text"))


def _note(store, event):
    if event.data["text"] == "poison":
        raise ValueError("cannot apply this one")
    store.put(NOTES, {"id": event.data["id"], "text": event.data["text"]})


PROBE = Projection(name="poison_probe", tables=(NOTES,), ddl="CREATE TABLE {schema}.notes (id text PRIMARY KEY, "
                   "text text NOT NULL);", handlers={"Probe.Noted": _note})


def _event(n: int, text: str) -> Event:
    return Event({"event_id": f"e{n}", "type": "Probe.Noted", "notification_id": n, "firm_id": "f",
                  "stream_id": "s", "occurred_at": "2026-01-01T00:00:00+00:00",
                  "data": {"id": f"n{n}", "text": text}}, partition=0, offset=n - 1)


def test_a_poison_event_is_set_aside_and_the_rest_applied(make_database):
    # A database of its own: the end-to-end stack's must never see this failure.
    with psycopg.connect(make_database(), autocommit=True) as conn:
        apply_tables(conn)
        conn.execute("DROP SCHEMA IF EXISTS pj_poison_probe CASCADE")
        ensure_schema(conn, PROBE)
        writer = ProjectionWriter(conn, [PROBE])
        writer.apply([_event(1, "first"), _event(2, "poison"), _event(3, "third")])
        writer.apply([_event(3, "third"), _event(4, "fourth")])  # redelivery still skipped
        notes = conn.execute("SELECT id, text FROM pj_poison_probe.notes ORDER BY id").fetchall()
        failures = conn.execute("SELECT notification_id, event_type, error FROM projection_failures "
                                "WHERE projection = 'poison_probe'").fetchall()
        assert notes == [("n1", "first"), ("n3", "third"), ("n4", "fourth")]
        assert failures == [(2, "Probe.Noted", "ValueError: cannot apply this one")]
        assert tracked(conn, "pj_poison_probe") == {0: (4, 3)}
