"""Contact search over the sealed index (projections/search.py, adapters/http/contact_search.py),
on a real PostgreSQL: it answers exactly what the decrypt-every-contact search answered,
page by page; a deleted contact, or one whose firm's directory key is destroyed, is no
longer found by its number; one firm's index never answers another's search."""
from __future__ import annotations

import itertools

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from adapters.http.read_models import ReadModels
from adapters.keystore import PostgresKeyStore
from firmtext.commands.migrate import apply_tables
from adapters.search_index import SearchDigests
from adapters.sealer import AesGcmSealer
from domain.envelope import Event
from domain.scopes import directory_scope
from tests.unit.fakes import InMemoryTexting
from projections.links import LINKS
from projections.search import SEARCH
from projections.writer import ProjectionWriter, ensure_schema
from streams.relay import chain_envelopes

firm_numbers = itertools.count()


class World:
    """A texting application (in-memory event store, keys in PostgreSQL) whose events the
    links and search projections apply as the worker would."""

    def __init__(self, url: str) -> None:
        self.pool = ConnectionPool(url, min_size=1, max_size=4, kwargs={"autocommit": True})
        self.sealer = AesGcmSealer(PostgresKeyStore(self.pool), b"s" * 32)
        self.app = InMemoryTexting(self.sealer, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.reads = ReadModels(self.pool, self.sealer)
        self.conn = psycopg.connect(url, autocommit=True)
        self.writer = ProjectionWriter(self.conn, [LINKS, SEARCH], keys=SearchDigests(self.sealer))
        self.applied, self.chain, self.offset = 0, {}, -1

    def project(self) -> None:
        notifications = list(self.app.recorder.select_notifications(start=self.applied + 1, limit=100_000))
        events = []
        for env in chain_envelopes(self.app, notifications, self.chain):
            self.offset += 1
            events.append(Event(env, 0, self.offset))
        if events:
            self.writer.apply(events)
            self.applied = notifications[-1].id

    def old_search(self, firm_id: str, q: str, limit: int, after: list | None):
        """The search as it was: every contact of the firm read and its numbers decrypted."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute("SELECT contact_id, name, kind, phones_ct FROM pj_links.contacts WHERE firm_id = %s "
                               + ("AND (name, contact_id) > (%s, %s) " if after else "")
                               + "ORDER BY name, contact_id", (firm_id, *after) if after else (firm_id,)).fetchall()
        needle, digits = q.strip().lower(), "".join(ch for ch in q if ch.isdigit())
        found = []
        for r in rows:
            phones = [self.sealer.open(directory_scope(firm_id), ct) for ct in r["phones_ct"]]
            phones = [p for p in phones if p]
            if not needle or needle in r["name"].lower() or (
                    len(digits) >= 3 and any(digits in "".join(ch for ch in p if ch.isdigit()) for p in phones)):
                found.append({"id": r["contact_id"], "name": r["name"], "kind": r["kind"], "phones": phones})
                if len(found) > limit:
                    break
        return found[:limit], len(found) > limit

    def pages(self, search, firm_id: str, q: str, limit: int) -> list:
        out, after = [], None
        while True:
            page, more = search(firm_id, q, limit, after)
            out.append((page, more))
            if not more or not page:
                return out
            after = [page[-1]["name"], page[-1]["id"]]


@pytest.fixture(scope="module")
def world(make_database):
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        apply_tables(conn)
        ensure_schema(conn, LINKS)
        ensure_schema(conn, SEARCH)
    w = World(url)
    yield w
    w.conn.close()
    w.pool.close()


def ids(world: World, firm_id: str, q: str) -> list[str]:
    return [c["id"] for c in world.reads.search_contacts(firm_id, q, 200, None)[0]]


names = st.text(alphabet="abAB İıßẞ-'0125%_\\", min_size=1, max_size=7)
phones = st.text(alphabet="0125", min_size=7, max_size=7).map(lambda d: "+1555" + d)
contacts = st.lists(st.tuples(names, st.lists(phones, max_size=3), st.sampled_from(("client", "lead"))),
                    min_size=1, max_size=25)
free_queries = st.text(alphabet="aBİß 0125-()5x%_\\\x00\ud800", max_size=9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(people=contacts, data=st.data())
def test_search_answers_exactly_what_decrypting_every_contact_answered(world, people, data):
    firm_id = f"firm-{next(firm_numbers)}"
    for n, (name, numbers, kind) in enumerate(people):
        world.app.sync_contact(firm_id, f"c{n % 20}", name, kind, numbers)  # some are updated
    if data.draw(st.booleans()):
        world.app.delete_contact(firm_id, "c0")
    world.project()
    fragments = [name for name, _, _ in people] + [p[i:i + size] for _, numbers, _ in people for p in numbers
                                                   for size in (3, 4, 5, 8) for i in (1, 4, 6)]
    queries = data.draw(st.lists(st.one_of(st.sampled_from(fragments), free_queries), min_size=3, max_size=8))
    for q in queries + ["", "  "]:
        for limit in (1, 3, 50):
            assert world.pages(world.reads.search_contacts, firm_id, q, limit) == \
                world.pages(world.old_search, firm_id, q, limit), (q, limit)


def test_a_deleted_contact_is_no_longer_found_by_its_number_and_leaves_no_index_rows(world):
    firm_id = f"firm-{next(firm_numbers)}"
    world.app.sync_contact(firm_id, "ann", "Ann Archer", "client", ["+15552013344"])
    world.app.sync_contact(firm_id, "bob", "Bob Baker", "client", ["+15557778899"])
    world.project()
    assert ids(world, firm_id, "201-3344") == ["ann"] and ids(world, firm_id, "3344") == ["ann"]
    world.app.delete_contact(firm_id, "ann")
    world.project()
    assert ids(world, firm_id, "201-3344") == [] and ids(world, firm_id, "3344") == []
    assert ids(world, firm_id, "archer") == [] and ids(world, firm_id, "7778") == ["bob"]
    with world.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM pj_search.grams WHERE firm_id = %s AND contact_id = 'ann'",
                            (firm_id,)).fetchone()[0] == 0


def test_destroying_the_firms_directory_key_makes_its_index_useless(world):
    firm_id = f"firm-{next(firm_numbers)}"
    world.app.sync_contact(firm_id, "ann", "Ann Archer", "client", ["+15552013344"])
    world.project()
    assert ids(world, firm_id, "2013344") == ["ann"]
    world.sealer.destroy(directory_scope(firm_id))
    assert ids(world, firm_id, "2013344") == [] and ids(world, firm_id, "344") == []
    # The name is not sealed, so the name still finds her; her number no longer opens.
    assert world.reads.search_contacts(firm_id, "ann", 50, None)[0] == [
        {"id": "ann", "name": "Ann Archer", "kind": "client", "phones": []}]


def test_one_firms_index_never_answers_another_firms_search(world):
    mine, theirs = f"firm-{next(firm_numbers)}", f"firm-{next(firm_numbers)}"
    world.app.sync_contact(mine, "ann", "Ann Archer", "client", ["+15552013344"])
    world.app.sync_contact(theirs, "zed", "Zed Zane", "client", ["+15552013344"])
    world.project()
    assert ids(world, mine, "2013344") == ["ann"] and ids(world, theirs, "2013344") == ["zed"]
    with world.pool.connection() as conn:
        grams = {firm: {r[0] for r in conn.execute("SELECT gram FROM pj_search.grams WHERE firm_id = %s",
                                                   (firm,)).fetchall()} for firm in (mine, theirs)}
    assert grams[mine] and grams[theirs] and not grams[mine] & grams[theirs]  # same number, unrelated digests
