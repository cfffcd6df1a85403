"""The mailer against real PostgreSQL and a real SMTP server on loopback: each
notification row is emailed once, through SMTP outages and racing workers."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import psycopg
import pytest

from firmtext.commands.migrate import apply_tables
from domain.texting import conversation_scope
from firmtext.bootstrap import Container
from firmtext.infra.daemon import free_port
from projections.registry import ALL
from projections.writer import ensure_schema
from streams.mailer import Mailer
from tests.mailbox import Mailbox

FIRM = "firm-mail"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def container(make_database, test_settings):
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        apply_tables(conn)
        for projection in ALL.values():
            ensure_schema(conn, projection)
    c = Container(test_settings.with_overrides(database_url=url, smtp_port=free_port()), pool_size=4)
    yield c
    c.close()


def add_rows(c: Container, count: int, users=("bob",), email_of=lambda u: f"{u}@firm.test", firm: str = FIRM,
             first_seq: int = 1) -> list[str]:
    """One conversation with ``count`` inbound texts notifying ``users`` by email; returns row ids."""
    conv = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    ids = []
    with c.pool.connection() as conn:
        conn.execute("INSERT INTO pj_inbox.conversations VALUES (%s, %s, 'h1', %s, NULL, %s, %s, NULL, 0, 0, "
                     "false, false)", (conv, firm, c.sealer.seal(conversation_scope(conv), "+15550001234"), now, now))
        for user in users:
            conn.execute("INSERT INTO pj_notifications.users VALUES (%s, %s, %s, '[\"texting\"]', 'clients', "
                         "'none', %s) ON CONFLICT DO NOTHING", (f"u-{user}", firm, user, email_of(user)))
        for i in range(count):
            event_id = str(uuid.uuid4())
            for user in users:
                ids.append(f"{event_id}:{user}")
                conn.execute("INSERT INTO pj_notifications.notifications VALUES (%s, %s, %s, %s, %s, %s, "
                             "'inbound', true, true, false, %s)", (ids[-1], firm, user, first_seq + i, conv, f"m{i}",
                                                                  now))
    return ids


def deliveries(c: Container) -> dict[str, bool]:
    with c.pool.connection() as conn:
        return {r[0]: r[1] is not None for r in conn.execute("SELECT notification_id, sent_at FROM email_deliveries")}


async def test_smtp_down_then_up_delivers_once(container):
    [row] = add_rows(container, 1)
    clock = Clock()
    mailer = Mailer(container, clock=clock)
    assert await mailer.tick() == 0 and mailer.failures == 1  # nothing listens yet: no crash, no record
    assert deliveries(container) == {}
    box = Mailbox(container.settings.smtp_port).start()
    try:
        assert await mailer.tick() == 0  # still backing off
        clock.now += 1.5
        assert await mailer.tick() == 1 and mailer.failures == 0
        clock.now += 10
        assert await mailer.tick() == 0
        assert box.notification_ids() == [row]
        assert deliveries(container) == {row: True}
        [letter] = box.received
        assert letter["To"] == "bob@firm.test" and letter["Subject"] == "New text message from ***1234"
    finally:
        box.stop()


async def test_two_mailers_racing_send_one_email_per_row(container, test_settings):
    rows = add_rows(container, 15, users=("bob", "dave"))
    other = Container(container.settings, pool_size=4)
    box = Mailbox(container.settings.smtp_port, delay=0.02).start()
    try:
        first, second = Mailer(container), Mailer(other)
        done = await asyncio.gather(asyncio.to_thread(first.deliver_due, 100),
                                    asyncio.to_thread(second.deliver_due, 100))
        assert sum(done) == len(rows)
        assert sorted(box.notification_ids()) == sorted(rows)
        assert await first.tick() == await second.tick() == 0
        assert len(box.received) == len(rows)
    finally:
        box.stop()
        other.close()


async def test_already_recorded_rows_are_never_mailed(container):
    """What a rebuilt projection looks like to the mailer: same row ids, deliveries on record."""
    old, new = add_rows(container, 2)
    with container.pool.connection() as conn:
        conn.execute("INSERT INTO email_deliveries VALUES (%s, now())", (old,))
    box = Mailbox(container.settings.smtp_port).start()
    try:
        assert await Mailer(container).tick() == 1
        assert box.notification_ids() == [new]
    finally:
        box.stop()


async def test_a_refused_address_or_a_blocked_number_does_not_hold_up_the_rest(container):
    refused = add_rows(container, 1, users=("gone",))
    shredded = add_rows(container, 1, users=("bob",))
    fine = add_rows(container, 1, users=("dave",))
    with container.pool.connection() as conn:
        conv = conn.execute("SELECT conversation_id FROM pj_notifications.notifications WHERE id = %s",
                            (shredded[0],)).fetchone()[0]
    container.sealer.destroy(conversation_scope(conv))
    box = Mailbox(container.settings.smtp_port, refuse=frozenset({"gone@firm.test"})).start()
    try:
        mailer = Mailer(container)
        assert await mailer.tick() == 3 and mailer.failures == 0
        assert box.notification_ids() == fine
        assert deliveries(container) == {refused[0]: False, shredded[0]: False, fine[0]: True}
    finally:
        box.stop()


async def test_a_poisoned_address_of_one_firm_does_not_stop_email_for_another(container):
    """Finding 7 of issue 8: an address holding CR/LF (inserted here directly: the API now
    refuses it) made composing raise ValueError, and the mailer paused everyone's email and
    retried that row forever. Now the row is set aside with its reason, at once."""
    from firmtext.commands._projections_status import _emails_set_aside

    poisoned = add_rows(container, 3, users=("evil",), email_of=lambda u: "evil@x.test\r\nBcc: spy@x.test",
                        firm="firm-a")
    fine = add_rows(container, 1, users=("bob",), firm="firm-b", first_seq=10)
    box = Mailbox(container.settings.smtp_port).start()
    try:
        mailer = Mailer(container)
        assert await mailer.tick() == 4 and mailer.failures == 0  # no pause: SMTP itself is fine
        assert box.notification_ids() == fine
        assert [m["To"] for m in box.received] == ["bob@firm.test"]
        with container.pool.connection() as conn:
            set_aside = {e["notification_id"]: e["reason"] for e in _emails_set_aside(conn)}
        assert set(set_aside) == set(poisoned)
        assert all(reason.startswith("ValueError") for reason in set_aside.values())
        assert await mailer.tick() == 0 and len(box.received) == 1  # set aside: never retried
    finally:
        box.stop()
