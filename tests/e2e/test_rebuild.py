"""Projection rebuilds on the real stack (DESIGN.md point 4): replaying firmtext.events
from offset 0 into empty tables reproduces the live tables exactly; ``firmtext
projections rebuild --all`` swaps rebuilt schemas in while the worker keeps running,
leaving every row and every API answer as it was; an interrupted rebuild resumes."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from projections.registry import ALL
from tests.e2e.harness import Firm, eventually, random_number, run_cli

pytestmark = pytest.mark.slow
USERS = {"alice": {}, "bob": {"notify": {"email": "clients", "desktop": "both"}}}


# -- the stack's state -----------------------------------------------------------------

def snapshot(database_url: str, schema_of=lambda p: p.schema) -> dict[str, list]:
    """Every row of every projection table (tracking included), sorted, keyed by the live
    name: what a rebuild must not change."""
    found = {}
    with psycopg.connect(database_url) as conn:
        for p in ALL.values():
            for table in [t.name for t in p.tables] + ["tracking"]:
                rows = conn.execute(sql.SQL("SELECT * FROM {}.{}").format(
                    sql.Identifier(schema_of(p)), sql.Identifier(table))).fetchall()
                found[f"{p.schema}.{table}"] = sorted(repr(r) for r in rows)
    return found


def drop_rebuild_schemas(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for p in ALL.values():
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(f"{p.schema}__rebuild")))


def differences(actual: dict[str, list], expected: dict[str, list]) -> str:
    """The rows that differ, table by table ("" when none): short enough to read in a CI
    log, where pytest would print both snapshots whole."""
    lines = []
    for table in sorted(set(actual) | set(expected)):
        got, want = set(actual.get(table, [])), set(expected.get(table, []))
        lines += [f"{table}: missing {row}" for row in sorted(want - got)]
        lines += [f"{table}: unexpected {row}" for row in sorted(got - want)]
    return "\n".join(lines)


def assert_same(actual: dict[str, list], expected: dict[str, list], what: str) -> None:
    found = differences(actual, expected)
    assert not found, f"{what}:\n{found}"


async def settle(settings, quiet: float = 1.5) -> dict:
    """Wait until the relay and every live projection have caught up with everything, and
    nothing new was published for ``quiet`` seconds; returns ``projections status --json``."""
    async def caught_up():
        code, out, err = await run_cli(settings, "projections", "status", "--json")
        assert code == 0, err
        status = json.loads(out)
        live = [r for r in status["projections"] if not r["schema"].endswith("__rebuild")]
        assert status["relay"]["lag"] == 0 and all(r["lag"] == 0 for r in live), status
        return status
    first = await eventually(caught_up, timeout=60, interval=0.3)
    assert not first["failures"], f"the live worker set events aside: {first['failures']}"
    await asyncio.sleep(quiet)
    second = await eventually(caught_up, timeout=60, interval=0.3)
    return second if _positions(second) == _positions(first) else await settle(settings, quiet)


def _positions(status: dict) -> tuple:
    """What must stand still when nothing moves (the relay's heartbeat age always moves)."""
    relay = status["relay"]
    return (relay["relayed_notification_id"], relay["newest_notification_id"],
            json.dumps(status["projections"], sort_keys=True), json.dumps(status["failures"], sort_keys=True))


# -- the workload --------------------------------------------------------------------------

async def workload(settings, http, firms: int = 3, clients: int = 6) -> list[dict]:
    """Several firms: inbound, replies delivered, mute, leave, archive, read, block,
    contacts and cases synced, updated and deleted. Returns what the API checks need."""
    made = []
    for f in range(firms):
        firm = await Firm(settings, http).setup(users=USERS, name=f"Rebuild Law {f}")
        phones = [random_number() for _ in range(clients)]
        for i, phone in enumerate(phones):
            await firm.text_in(phone, f"hello {i} from client")
        convs = [await firm.conversation_with(p) for p in phones]
        for i, conv in enumerate(convs[:4]):
            r = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages",
                                   json={"body": f"reply {i}"})
            assert r.status_code == 202, r.text
        await firm.text_in(phones[0], "thanks!")
        for user, action, conv in (("bob", "mute", convs[0]), ("alice", "leave", convs[1]),
                                   ("alice", "archive", convs[2]), ("bob", "read", convs[0]),
                                   ("alice", "read", convs[3]), ("bob", "block", convs[5])):
            r = await firm.as_user(user, "POST", f"/v1/conversations/{conv['id']}/{action}")
            assert r.status_code == 200, r.text
        for c, phone in enumerate(phones[:3]):
            r = await firm.admin("PUT", f"/v1/contacts/k{c}", {"name": f"Client {c}", "kind": "client",
                                                              "phones": [phone]})
            assert r.status_code == 200, r.text
        await firm.admin("PUT", "/v1/contacts/k1", {"name": "Client One", "kind": "lead", "phones": phones[1:3]})
        await firm.admin("PUT", "/v1/contacts/gone", {"name": "Gone", "kind": "lead", "phones": [phones[4]]})
        assert (await firm.admin("DELETE", "/v1/contacts/gone")).status_code == 204
        r = await firm.admin("PUT", "/v1/cases/case-a", {"name": "Smith v. Jones", "contact_ids": ["k0", "k1"]})
        assert r.status_code == 200, r.text
        await firm.admin("PUT", "/v1/cases/case-a", {"name": "Smith v. Jones (appeal)", "contact_ids": ["k1"]})
        await firm.text_in(phones[2], "back again")  # un-archives
        made.append({"firm": firm, "convs": convs})
    for entry in made:  # replies delivered: no status callback arrives after the snapshot
        firm = entry["firm"]
        for conv in entry["convs"][:4]:
            async def delivered(conv=conv):
                msgs = await firm.messages(conv["id"])
                return all(m["status"] == "delivered" for m in msgs if m["direction"] == "outbound")
            await eventually(delivered, timeout=30)
    return made


async def api_answers(made: list[dict]) -> dict:
    """What staff see: inboxes of two users, messages, contact and case conversations."""
    answers = {}
    for entry in made:
        firm, convs = entry["firm"], entry["convs"]
        for user in ("alice", "bob"):
            answers[f"{firm.firm_id}/inbox/{user}"] = await firm.inbox(user)
        for conv in convs[:5]:
            answers[f"{firm.firm_id}/messages/{conv['id']}"] = await firm.messages(conv["id"])
        for path in ("/v1/contacts/k0/conversations", "/v1/contacts/k1/conversations",
                     "/v1/cases/case-a/conversations"):
            r = await firm.as_user("alice", "GET", path)
            answers[f"{firm.firm_id}{path}"] = (r.status_code, r.json())
    return answers


@pytest.fixture(scope="module")
async def history(running):
    """The mixed workload, once for the module, on its own HTTP client."""
    import httpx

    async with httpx.AsyncClient(base_url=running.settings.public_url, timeout=30) as client:
        made = await workload(running.settings, client)
        await settle(running.settings)
        yield made, client


# -- the promises ---------------------------------------------------------------------------

async def test_replaying_from_offset_zero_into_empty_tables_reproduces_the_live_tables(settings, history):
    await settle(settings)
    live = await asyncio.to_thread(snapshot, settings.database_url)
    code, out, err = await run_cli(settings, "projections", "rebuild", "--all", "--restart", "--no-swap")
    assert code == 0, err
    replayed = await asyncio.to_thread(snapshot, settings.database_url, lambda p: f"{p.schema}__rebuild")
    drop_rebuild_schemas(settings.database_url)  # first: a failure here must not leave them to the next test
    assert_same(replayed, live, "replayed tables differ from the live ones")
    assert any(rows for name, rows in live.items() if name.endswith(".messages"))


async def test_rebuild_all_swaps_in_identical_tables_and_api_answers_while_the_worker_runs(settings, history):
    made, client = history
    await settle(settings)
    before_rows = await asyncio.to_thread(snapshot, settings.database_url)
    before_api = await api_answers(made)
    code, out, err = await run_cli(settings, "projections", "rebuild", "--all")
    assert code == 0, err
    assert "swapped in" in out and "ETA" in err  # the progress line went to stderr
    assert_same(await asyncio.to_thread(snapshot, settings.database_url), before_rows,
                "swapped-in tables differ from the live ones")
    assert await api_answers(made) == before_api
    with psycopg.connect(settings.database_url) as conn:
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pj\\_%\\_\\_%'").fetchall()
    assert left == []  # neither __rebuild nor __old schemas remain
    # The worker carries on with the swapped-in schemas: a new text shows up.
    firm = made[0]["firm"]
    phone = random_number()
    await firm.text_in(phone, "after the swap")
    assert (await firm.conversation_with(phone))["last_message"]["body"] == "after the swap"


async def test_an_interrupted_rebuild_resumes_to_the_same_tables(settings, history):
    await settle(settings)
    before = await asyncio.to_thread(snapshot, settings.database_url)
    code, out, err = await run_cli(settings, "projections", "rebuild", "--all", "--restart",
                                   "--batch-size", "10", "--stop-after-batches", "3")
    assert code == 3, err
    code, out, err = await run_cli(settings, "projections", "status", "--json")
    midway = [r for r in json.loads(out)["projections"] if r["schema"] == "pj_messages__rebuild"]
    assert any(r["applied_offset"] is not None for r in midway)  # it got somewhere…
    assert sum(r["lag"] for r in midway) > 0  # …but not to the end
    code, out, err = await run_cli(settings, "projections", "rebuild", "--all", "--batch-size", "10")
    assert code == 0, err
    assert "resumed" in out
    assert_same(await asyncio.to_thread(snapshot, settings.database_url), before,
                "resumed rebuild differs from the live tables")


async def test_texts_arriving_during_a_rebuild_are_neither_lost_nor_doubled(settings, history):
    made, client = history
    firm = made[1]["firm"]
    phones = [random_number() for _ in range(4)]

    rebuild = asyncio.create_task(run_cli(settings, "projections", "rebuild", "--all", "--batch-size", "25"))
    rounds = 0
    while not rebuild.done() or rounds < 5:  # texts keep coming before, during and after the swap
        for phone in phones:
            await firm.text_in(phone, f"during {rounds}")
        rounds += 1
    code, out, err = await rebuild
    assert code == 0, err
    await settle(settings)
    for phone in phones:
        conv = await firm.conversation_with(phone)
        bodies = [m["body"] for m in await firm.messages(conv["id"], limit=200)]
        assert bodies == [f"during {i}" for i in range(rounds)]
    # And the swapped-in tables are exactly what a replay from offset 0 gives.
    live = await asyncio.to_thread(snapshot, settings.database_url)
    code, out, err = await run_cli(settings, "projections", "rebuild", "--all", "--restart", "--no-swap")
    assert code == 0, err
    replayed = await asyncio.to_thread(snapshot, settings.database_url, lambda p: f"{p.schema}__rebuild")
    drop_rebuild_schemas(settings.database_url)
    assert_same(replayed, live, "a replay differs from the tables swapped in during a rebuild")


def _children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
        except OSError:
            pass
    return found


async def test_a_rebuild_killed_midway_resumes_to_the_same_tables(settings, history):
    await settle(settings)
    before = await asyncio.to_thread(snapshot, settings.database_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "firmtext", "projections", "rebuild", "--all", "--restart", "--batch-size", "5",
        env={**os.environ, **settings.as_env()}, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    async def committed_a_batch():
        def rows():
            with psycopg.connect(settings.database_url) as conn:
                return conn.execute("SELECT count(*) FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid "
                                    "WHERE n.nspname = 'pj_messages__rebuild' AND c.relname = 'tracking'"
                                    ).fetchone()[0] and conn.execute(
                    "SELECT count(*) FROM pj_messages__rebuild.tracking").fetchone()[0]
        return await asyncio.to_thread(rows)
    await eventually(committed_a_batch, timeout=60, interval=0.02)
    replayers = _children_of(process.pid)
    process.kill()  # SIGKILL: no cleanup of any kind
    await process.wait()

    async def replayers_gone():  # they die with their parent, or a rerun would race them
        return not any(Path(f"/proc/{pid}").exists() for pid in replayers)
    await eventually(replayers_gone, timeout=10)
    code, out, err = await run_cli(settings, "projections", "status", "--json")
    midway = [r for r in json.loads(out)["projections"] if r["schema"] == "pj_messages__rebuild"]
    assert sum(r["lag"] for r in midway) > 0
    code, out, err = await run_cli(settings, "projections", "rebuild", "--all")
    assert code == 0, err
    assert "resumed" in out
    assert_same(await asyncio.to_thread(snapshot, settings.database_url), before,
                "resumed rebuild differs from the live tables")
