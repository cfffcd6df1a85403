"""Property tests: every projection is exactly-once under Kafka's at-least-once delivery,
and delivery statuses only ever move forward.

Histories are realistic because they are real: hypothesis draws a list of use cases
(firms, staff, contacts and cases synced, updated and deleted; conversations composed
and texted into; sends, carrier outcomes in any order, mutes, leaves, reads, archives,
STOP/START/HELP, blocks) and runs them on the in-memory texting application; the
stored events become envelopes exactly as the relay builds them, keyed firm -> partition.
Each delivery schedule then redelivers, duplicates, replays and re-batches that input,
preserving only per-partition order, as a consumer that crashes and rewinds would see it.
"""
from __future__ import annotations

from uuid import UUID

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.search_index import SearchDigests
from domain import statuses
from domain.errors import DomainError
from projections.base import apply_new
from projections.inbox import CONVERSATIONS, INBOX, USER_STATE
from projections.links import CASE_CONTACTS, CASES, CONTACT_PHONES, CONTACTS, LINKS
from projections.messages import MESSAGES, MESSAGES_PROJECTION
from projections.registry import ALL
from projections.store import MemoryStore
from domain.envelope import Event
from streams.relay import chain_envelopes
from tests.unit.fakes import in_memory_texting

FIRMS = ("f0", "f1", "f2")
USERS = ("alice", "bob", "carol")
PHONES = ("+15551000001", "+15551000002", "+15551000003", "+15551000004")
CONTACT_IDS = ("c0", "c1", "c2")
CASE_IDS = ("k0", "k1")
STATUSES = tuple(statuses.RANK) + ("bogus",)
BODIES = ("Is my hearing on Monday?", "STOP", "start", "HELP", " stop ", "thanks", "please stop at night")
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- histories ----------------------------------------------------------------------------

firm_ = st.sampled_from(FIRMS)
user_ = st.sampled_from(USERS)
phone_ = st.sampled_from(PHONES)
preference = st.sampled_from(("none", "clients", "firm", "both"))

thread_ = st.integers(0, 7)  # which started conversation (modulo how many there are)
DIRECTORY_COMMANDS = (
    st.tuples(st.just("firm"), firm_, st.integers(0, 1), st.integers(0, 1)),
    st.tuples(st.just("user"), firm_, user_, st.booleans(), preference, preference),
    st.tuples(st.just("seen"), firm_, user_, st.integers(0, 50)),
    st.tuples(st.just("contact"), firm_, st.sampled_from(CONTACT_IDS), st.integers(0, 1),
              st.lists(phone_, max_size=2), st.sampled_from(("client", "lead"))),
    st.tuples(st.just("delete_contact"), firm_, st.sampled_from(CONTACT_IDS)),
    st.tuples(st.just("case"), firm_, st.sampled_from(CASE_IDS), st.integers(0, 1),
              st.lists(st.sampled_from(CONTACT_IDS), max_size=3)),
    st.tuples(st.just("delete_case"), firm_, st.sampled_from(CASE_IDS)),
)
INBOX_ACTION = st.sampled_from(("mute", "unmute", "leave", "mark_read", "archive"))
TEXTING_COMMANDS = (
    st.tuples(st.just("compose"), firm_, phone_, user_),
    st.tuples(st.just("inbound"), firm_, phone_, st.sampled_from(BODIES), st.integers(0, 6)),
    st.tuples(st.just("send"), thread_, user_, st.sampled_from(("On it.", "See you at 9."))),
    st.tuples(st.just("dispatch"), thread_, st.integers(0, 5), st.sampled_from(("queued", "sent"))),
    st.tuples(st.just("status"), thread_, st.integers(0, 5), st.sampled_from(STATUSES),
              st.sampled_from((None, None, None, 30003, 21610))),
    st.tuples(INBOX_ACTION, thread_, user_),
)
# Texting weighs three times the directory; blocks are rare, as in life.
COMMAND = st.one_of(*DIRECTORY_COMMANDS, *TEXTING_COMMANDS * 3,
                    st.tuples(st.just("block"), thread_, user_, st.integers(0, 3)))


class World:
    """The in-memory texting application and the conversations started in it so far."""

    def __init__(self) -> None:
        self.app = in_memory_texting()
        self.threads: list[tuple[str, object]] = []  # (firm, conversation id), in start order

    def _started(self, firm: str, conversation_id) -> None:
        if (firm, conversation_id) not in self.threads:
            self.threads.append((firm, conversation_id))

    def run(self, command: tuple) -> None:
        """Invoke one use case; refusals (opted out, blocked, unknown) are part of life."""
        app, (kind, *args) = self.app, command
        match kind:
            case "firm":
                firm, variant, number = args
                app.configure_firm(firm, f"{firm} Law {variant}", f"+1555200{FIRMS.index(firm)}{number:03d}")
            case "user":
                firm, user, texting, email, desktop = args
                app.sync_user(firm, user, user.title(), f"{user}@{firm}.test", ["texting"] if texting else [],
                              email, desktop)
            case "seen":
                app.see_notifications(*args)
            case "contact":
                firm, contact, variant, phones, contact_kind = args
                app.sync_contact(firm, contact, f"Contact {contact} {variant}", contact_kind, phones)
            case "delete_contact":
                app.delete_contact(*args)
            case "case":
                firm, case, variant, contacts = args
                app.sync_case(firm, case, f"Case {case} {variant}", contacts)
            case "delete_case":
                app.delete_case(*args)
            case "compose":
                firm, phone, user = args
                self._started(firm, app.open_conversation(firm, phone, user)[0].id)
            case "inbound":
                firm, phone, body, sid = args
                outcome = app.receive_inbound(firm, phone, f"SM{firm}{phone[-1]}{sid:030d}", body)
                self._started(firm, outcome.conversation_id)
            case "block" if args[2]:
                pass  # three blocks in four are thought better of
            case _ if self.threads:
                self._act_in_thread(kind, *self.threads[args[0] % len(self.threads)], *args[1:])

    def _act_in_thread(self, kind: str, firm: str, conv_id, *args) -> None:
        app = self.app
        if kind == "send":
            app.request_outbound(firm, conv_id, *args)
        elif kind in ("dispatch", "status"):
            conv = app.get_or_none(conv_id)
            outbound = [m for m, v in conv.messages.items() if v["direction"] == "outbound"]
            if not outbound:
                return
            message_id = outbound[args[0] % len(outbound)]
            if kind == "dispatch":
                app.record_dispatch(conv_id, message_id, f"SM{message_id}", args[1])
            else:
                app.record_status(conv_id, message_id, args[1], args[2])
        else:  # mute, unmute, leave, mark_read, archive, block
            getattr(app, kind)(firm, conv_id, args[0])


def events_of(app, partitions: int) -> list[Event]:
    """The stored events as the relay publishes them, on ``partitions`` partitions by firm."""
    notifications = list(app.recorder.select_notifications(start=1, limit=100_000))
    envelopes = chain_envelopes(app, notifications, {})
    offsets: dict[int, int] = {}
    events = []
    for env in envelopes:
        partition = FIRMS.index(env["firm_id"]) % partitions if env["firm_id"] in FIRMS else 0
        offsets[partition] = offsets.get(partition, -1) + 1
        events.append(Event(env, partition, offsets[partition]))
    return events


@st.composite
def histories(draw) -> tuple[object, list[Event]]:
    """(application, its events on 1-3 partitions)."""
    world = World()
    # Histories start with the firms and their staff, as the host platform syncs them.
    for firm in FIRMS[:draw(st.integers(1, 3))]:
        world.run(("firm", firm, 0, 0))
        for user in USERS[:draw(st.integers(1, 3))]:
            world.run(("user", firm, user, user != "carol", "none", "clients"))
    size = draw(st.integers(10, 60))
    for command in draw(st.lists(COMMAND, min_size=size, max_size=size)):
        try:
            world.run(command)
        except DomainError:
            pass
    return world.app, events_of(world.app, draw(st.integers(1, 3)))


# -- delivery schedules -------------------------------------------------------------------

@st.composite
def redelivery(draw, events: list[Event]) -> list[list[Event]]:
    """Batches a crashing, rewinding consumer could be handed for ``events``.

    Per partition, a cursor walks its events; at any step it may rewind to an earlier
    offset (a crash before commit), repeat the last one (a duplicate) or, at the end,
    replay everything. Partitions are then interleaved at random and cut into batches.
    """
    by_partition: dict[int, list[Event]] = {}
    for e in events:
        by_partition.setdefault(e.partition, []).append(e)
    streams = []
    for evs in by_partition.values():
        seen, i = [], 0
        while i < len(evs):
            move = draw(st.sampled_from(("next", "next", "next", "next", "rewind", "again")))
            if move == "rewind":
                i = draw(st.integers(0, i))
            elif move == "again" and i:
                seen.append(evs[i - 1])
                continue
            seen.append(evs[i])
            i += 1
        if draw(st.booleans()):
            seen += evs[:draw(st.integers(0, len(evs)))]  # a replay of a prefix, or all of it
        streams.append(seen)
    merged = []
    while any(streams):
        live = [s for s in streams if s]
        merged.append(draw(st.sampled_from(live)).pop(0))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(merged)), max_size=6))))
    bounds = [0, *cuts, len(merged)]
    return [merged[a:b] for a, b in zip(bounds, bounds[1:])]


def not_null_columns(projection) -> dict[str, set[str]]:
    """table -> columns PostgreSQL refuses NULL in (NOT NULL or part of the key), from the DDL."""
    result = {t.name: set(t.key) for t in projection.tables}
    for table, body in re.findall(r"CREATE TABLE \{schema\}\.(\w+) \((.*?)\);", projection.ddl, re.S):
        result[table] |= {c.strip('"') for c in re.findall(r'("?\w+"?) \w+ NOT NULL', body)}
    return result


def project(projection, batches: list[list[Event]], keys=None):
    store, positions = MemoryStore(), {}
    for batch in batches:
        apply_new(projection, store, positions, batch, keys=keys)
    return store.snapshot(projection.tables), {p: n for p, (n, _) in positions.items()}


@pytest.mark.parametrize("name", sorted(ALL))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_redelivery_of_a_history_projects_like_one_clean_pass(name, data):
    projection = ALL[name]
    app, events = data.draw(histories())
    keys = SearchDigests(app.sealer) if projection.keyed else None
    clean = project(projection, [events], keys)
    # A NULL where the schema forbids one would stop the PostgreSQL writer for every firm.
    required = not_null_columns(projection)
    for table, rows in clean[0].items():
        for row in rows:
            assert not [c for c in required[table] if row[c] is None], (table, row)
    schedule = data.draw(redelivery(events))
    assert project(projection, schedule, keys) == clean
    assert project(projection, [events, events], keys) == clean  # the whole stream twice


def assert_links_agree(app, events) -> None:
    """Contact and case rows (and their phone and case joins) say what the aggregates say."""
    links = MemoryStore()
    apply_new(LINKS, links, {}, events)
    phones, case_contacts = set(), set()
    for stream in {e.stream_id for e in events if e.type in ("Contact.Synced", "Case.Synced")}:
        agg = app.repository.get(UUID(stream))
        is_contact = hasattr(agg, "phone_hashes")
        row = links.get(CONTACTS if is_contact else CASES, (stream,))
        if agg.deleted:
            assert row is None
        elif is_contact:
            assert (row["contact_id"], row["name"], row["phone_hashes"]) == (
                agg.contact_id, agg.name, agg.phone_hashes)
            phones |= {(agg.firm_id, h, agg.contact_id) for h in agg.phone_hashes}
        else:
            assert (row["case_id"], row["name"], row["contact_ids"]) == (agg.case_id, agg.name, agg.contact_ids)
            case_contacts |= {(agg.firm_id, agg.case_id, c) for c in agg.contact_ids}
    assert {CONTACT_PHONES.key_of(r) for r in links.select(CONTACT_PHONES)} == phones
    assert {CASE_CONTACTS.key_of(r) for r in links.select(CASE_CONTACTS)} == case_contacts


@PROPERTY_SETTINGS
@given(history=histories())
def test_read_models_agree_with_the_aggregates_themselves(history):
    """Read models are only worth their keep if they say what the aggregates say."""
    app, events = history
    assert_links_agree(app, events)
    inbox, messages = MemoryStore(), MemoryStore()
    apply_new(INBOX, inbox, {}, events)
    apply_new(MESSAGES_PROJECTION, messages, {}, events)
    conv_ids = {e.stream_id for e in events if e.type == "Conversation.Started"}
    for conv_id in conv_ids:
        conv = app.repository.get(UUID(conv_id))
        row = inbox.get(CONVERSATIONS, (conv_id,))
        if conv.blocked:
            assert row is None and messages.select(MESSAGES, conversation_id=conv_id) == []
            assert inbox.select(USER_STATE, conversation_id=conv_id) == []
            continue
        assert (row["archived"], row["opted_out"], row["inbound_count"]) == (
            conv.archived, conv.opted_out, conv.inbound_count)
        for state in inbox.select(USER_STATE, conversation_id=conv_id):
            assert state["muted"] == (state["user_id"] in conv.muted), state
            assert state["left"] == (state["user_id"] in conv.left), state
            assert state["participant"] == (state["user_id"] in conv.participants), state
        rows = {r["message_id"]: r for r in messages.select(MESSAGES, conversation_id=conv_id)}
        assert {m: v["status"] for m, v in conv.messages.items()} == {  # the aggregate keeps outbound only
            m: r["status"] for m, r in rows.items() if r["direction"] == "outbound"}
        assert sorted(r["seq"] for r in rows.values()) == list(range(1, len(rows) + 1))
        last = row["last_message"]
        if last is not None and last["id"] in conv.messages:
            assert last["status"] == conv.messages[last["id"]]["status"]


# -- statuses only move forward -------------------------------------------------------------

def _fold(sequence: list[str], start: str = "queued") -> list[str]:
    """Every status a message holds while ``sequence`` arrives, starting with ``start``."""
    held = [start]
    for new in sequence:
        held.append(new if statuses.moves_forward(held[-1], new) else held[-1])
    return held


def _expected(sequence: list[str], start: str = "queued") -> str:
    """The highest-ranked status seen; among final ones (equal rank), the first to arrive."""
    known = [s for s in [start, *sequence] if statuses.is_known(s)]
    top = max(statuses.RANK[s] for s in known)
    return next(s for s in known if statuses.RANK[s] == top)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(STATUSES), max_size=12))
def test_a_status_only_moves_forward_whatever_the_callback_order(sequence):
    held = _fold(sequence)
    assert held[-1] == _expected(sequence)
    ranks = [statuses.RANK[s] for s in held]
    assert ranks == sorted(ranks)
    first_final = next((i for i, s in enumerate(held) if s in statuses.FINAL), None)
    if first_final is not None:
        assert set(held[first_final:]) == {held[first_final]}


@PROPERTY_SETTINGS
@given(dispatch_at=st.integers(0, 8), dispatched_as=st.sampled_from(("queued", "sent", "accepted")),
       callbacks=st.lists(st.sampled_from(STATUSES), max_size=8), data=st.data())
def test_callbacks_in_any_order_end_at_the_highest_status_everywhere(dispatch_at, dispatched_as, callbacks, data):
    """Through the real use cases, then both read models, redelivered or not."""
    app = in_memory_texting()
    app.configure_firm("f0", "F0 Law", "+15552000000")
    conv, _ = app.open_conversation("f0", PHONES[0], "alice")
    message_id = app.request_outbound("f0", conv.id, "alice", "Court moved to 10am.")["id"]
    arrivals = list(callbacks)
    arrivals.insert(min(dispatch_at, len(arrivals)), ("dispatch", dispatched_as))
    held = []
    for arrival in arrivals:
        if isinstance(arrival, tuple):
            app.record_dispatch(conv.id, message_id, "SM" + "a" * 32, arrival[1])
        else:
            app.record_status(conv.id, message_id, arrival, None)
        held.append(app.repository.get(conv.id).messages[message_id]["status"])
    seen = [a[1] if isinstance(a, tuple) else a for a in arrivals]
    assert held == _fold(seen)[1:]  # step by step: forward only, and a final status stays
    assert held[-1] == _expected(seen)
    delivered = [e for batch in data.draw(redelivery(events_of(app, 1))) for e in batch]
    messages, inbox = MemoryStore(), MemoryStore()
    apply_new(MESSAGES_PROJECTION, messages, {}, delivered)
    apply_new(INBOX, inbox, {}, delivered)
    assert messages.get(MESSAGES, (message_id,))["status"] == held[-1]
    assert inbox.get(CONVERSATIONS, (str(conv.id),))["last_message"]["status"] == held[-1]
