"""What every drill checks afterwards, on the live system (issue 10):

- every accepted text is visible exactly once, in order within its conversation;
- every outbound text was handed to the carrier exactly once, by the simulator's count;
- a replay from offset 0 equals the live tables (as tests/e2e/test_rebuild.py does it);
- ``firmtext audit verify`` passes.
"""
from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.e2e.harness import eventually, run_cli
from tests.e2e.test_rebuild import assert_same, drop_rebuild_schemas, settle, snapshot
from tests.faults.traffic import Traffic

SETTLE_TIMEOUT = 240.0


async def settled(settings) -> dict:
    """test_rebuild's settle (relay and every live projection caught up, nothing set aside),
    tried again for longer: after a fault the supervisor may still be backing off a restart."""
    async def attempt():
        return await settle(settings)
    return await eventually(attempt, timeout=SETTLE_TIMEOUT, interval=1.0)


# Every drill text reaches an outcome at the carrier; a status callback lost during a fault
# is made up for by the sender's follow-up (streams/status_followup.py), so none stays "sent".
FINAL = ("delivered", "undelivered", "failed")


async def each_text_once_in_order(traffic: Traffic) -> None:
    """The API shows every conversation exactly as its client and firm wrote it, and every
    staff text with its outcome at the carrier."""
    async def shown(conv):
        async def complete():
            messages = await conv.firm.messages(conv.id, limit=200)
            done = all(m["status"] in FINAL for m in messages if m["direction"] == "outbound")
            return messages if done and len(messages) >= len(conv.expected) else None
        try:
            messages = await eventually(complete, timeout=60, interval=0.5)
        except AssertionError:  # compare what is there: the message below says what differs
            messages = await conv.firm.messages(conv.id, limit=200)
        return conv, messages

    for conv, messages in await asyncio.gather(*(shown(c) for c in traffic.conversations)):
        found = [(m["direction"], m["body"]) for m in messages]
        assert found == conv.expected, f"{conv.firm.firm_id} {conv.phone}: {found} != {conv.expected}"
        stuck = [(m["body"], m["status"]) for m in messages
                 if m["direction"] == "outbound" and m["status"] not in FINAL]
        assert not stuck, f"{conv.firm.firm_id} {conv.phone}: outbound texts without an outcome: {stuck}"
        traffic.shown_status.update((m["body"], m["status"]) for m in messages if m["direction"] == "outbound")


async def carrier_got_each_send_once(traffic: Traffic) -> None:
    """The simulator's own record: each staff text accepted once, none twice, and the API
    shows the outcome the carrier has for it."""
    async with httpx.AsyncClient(base_url=traffic.settings.twilio_api_base, timeout=30) as sim:
        accepted = (await sim.get("/_sim/messages")).json()["messages"]
    counts = Counter(m["body"] for m in accepted)
    twice = {body: n for body, n in counts.items() if body in traffic.outbound_bodies and n > 1}
    missing = [body for body in traffic.outbound_bodies if counts[body] == 0]
    assert not twice, f"the carrier got {len(twice)} texts more than once: {sorted(twice.items())[:5]}"
    assert not missing, f"{len(missing)} texts never reached the carrier: {missing[:5]}"
    assert len(traffic.outbound_bodies) == len(traffic.conversations)
    at_carrier = {m["body"]: m["status"] for m in accepted if m["body"] in traffic.outbound_bodies}
    differ = {body: (shown, at_carrier[body]) for body, shown in traffic.shown_status.items()
              if shown != at_carrier[body]}
    assert not differ, f"{len(differ)} texts show another status than the carrier's: {sorted(differ.items())[:5]}"


async def replay_equals_live(settings) -> None:
    """Rebuild every projection from offset 0 beside the live ones; the rows must match."""
    live = await asyncio.to_thread(snapshot, settings.database_url)
    code, out, err = await run_cli(settings, "projections", "rebuild", "--all", "--restart", "--no-swap")
    assert code == 0, err
    replayed = await asyncio.to_thread(snapshot, settings.database_url, lambda p: f"{p.schema}__rebuild")
    drop_rebuild_schemas(settings.database_url)
    assert_same(replayed, live, "a replay from offset 0 differs from the live tables")


async def audit_passes(settings) -> None:
    code, out, err = await run_cli(settings, "audit", "verify")
    assert code == 0, f"audit verify failed:\n{out}\n{err}"


async def after_the_drill(settings, traffic: Traffic) -> None:
    """All four promises, on the live system."""
    await settled(settings)
    await each_text_once_in_order(traffic)
    await carrier_got_each_send_once(traffic)
    await settled(settings)  # the delivery callbacks too
    await replay_equals_live(settings)
    await audit_passes(settings)
    errors = {status for status in traffic.statuses if status >= 500 and status != 503}
    assert not errors, f"the API answered {errors} (only 503 is retriable): {dict(traffic.statuses)}"
