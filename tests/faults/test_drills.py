"""The five fault drills of issue 10, on 3 Kafka nodes, 2 workers and 2 API processes
under ``firmtext up``. Each drives the burst of tests/faults/traffic.py while one fault
happens, then checks tests/faults/checks.py's promises on the live system.

Run one alone: ``make faults PYTEST_ARGS='-k leader'`` (docs/operations.md "Fault drills").
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import httpx
import psycopg
from aiokafka.admin import AIOKafkaAdminClient

from firmtext.infra import daemon, kafka, postgres
from tests.faults.checks import after_the_drill
from tests.faults.traffic import Traffic

KAFKA_DOWN_FOR = 30.0


async def drill(system, fault, spread: float = 0.0) -> Traffic:
    """Set the firms up, run the burst (spread over ``spread`` seconds, or as fast as it is
    answered) and ``fault(traffic)`` together, then check."""
    async with httpx.AsyncClient(base_url=system.settings.public_url, timeout=30) as http:
        traffic = Traffic(system.settings, uuid.uuid4().hex[:6])
        began = time.monotonic()
        await traffic.setup(http)
        print(f"\nsetup: {time.monotonic() - began:.1f} s")
        began = time.monotonic()
        burst = traffic.running = asyncio.create_task(traffic.burst(spread))
        try:
            await fault(traffic)
        finally:
            await burst
        print(f"\nburst and fault: {time.monotonic() - began:.1f} s, answers {dict(traffic.statuses)}")
        began = time.monotonic()
        await after_the_drill(system.settings, traffic)
        print(f"checks: {time.monotonic() - began:.1f} s")
        return traffic


async def _busiest_leader(settings) -> int:
    """The node id leading the most partitions of the events topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.events_topic])
    finally:
        await admin.close()
    leaders = [p["leader"] for p in described[0]["partitions"]]
    return max(set(leaders), key=leaders.count)


async def test_sigkill_of_the_busiest_partition_leader_loses_and_doubles_nothing(system):
    async def fault(traffic):
        await traffic.reached(0.25)
        leader = await _busiest_leader(system.settings)
        node = next(n for n in kafka.nodes(system.local) if n.node_id == leader)
        pid = kafka.node_pid(node)
        os.kill(pid, signal.SIGKILL)
        assert await asyncio.to_thread(daemon.wait_until, lambda: not daemon.pid_alive(pid), 10)
        await asyncio.sleep(5)  # the others elect new leaders; producers follow them
        await asyncio.to_thread(kafka.ensure_kafka, system.local)  # brings back only that node
    await drill(system, fault)


async def _worker_sending_in_flight(system, answer_delay: float = 20.0, within: float = 10.0) -> str | None:
    """Make the carrier answer the next sends late, wait until it has accepted one (that text
    is at the carrier but not recorded yet: the carrier-side duplicate window), and name the
    worker whose lane is waiting for the answer (``sending_lanes.holder`` starts with its pid).
    The answer (and the status callbacks after it) come later than another lane takes the
    number over (LEASE_SECONDS), so only the reconciliation can tell it was sent."""
    simulator = system.settings.twilio_api_base
    async with httpx.AsyncClient(timeout=10) as sim:
        before = len((await sim.get(f"{simulator}/_sim/messages")).json()["messages"])
        await sim.post(f"{simulator}/_sim/faults", json={"answer_delay": answer_delay, "count": 2})
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            accepted = (await sim.get(f"{simulator}/_sim/messages")).json()["messages"][before:]
            if accepted:
                break
            await asyncio.sleep(0.05)
        else:
            return None
    with psycopg.connect(system.settings.database_url) as conn:
        row = conn.execute("SELECT holder FROM sending_lanes WHERE from_number = %s", (accepted[0]["from"],)).fetchone()
    pid = int(row[0].split(".")[0]) if row else None
    groups = {name: c["pid"] for name, c in system.components().items() if name.startswith("worker-")}
    return next((name for name, group in groups.items()
                 if pid is not None and daemon.pid_alive(pid) and os.getpgid(pid) == group), None)


def _reconciled(settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute("SELECT count(*) FROM outbound_dispatches WHERE outcome = 'reconciled'").fetchone()[0]


async def test_worker_sigkilled_again_and_again_mid_batch_and_mid_send(system):
    reconciled_before = await asyncio.to_thread(_reconciled, system.settings)

    async def fault(traffic):
        for fraction in (0.15, 0.4, 0.55):
            await traffic.reached(fraction)
            victim = "worker-1"
            if fraction > 0.3:  # the staff sends go out mid-burst: kill the worker with a send in flight
                victim = await _worker_sending_in_flight(system) or victim
            killed = await asyncio.to_thread(system.sigkill, victim)
            await asyncio.to_thread(system.wait_running, victim, killed)  # up restarts it
    await drill(system, fault)
    reconciled = await asyncio.to_thread(_reconciled, system.settings) - reconciled_before
    print(f"sends interrupted at the carrier and reconciled instead of sent again: {reconciled}")
    assert reconciled >= 1, "no kill hit a send the carrier had accepted: the drill missed its window"


async def test_api_process_sigkilled_mid_burst_while_the_carrier_retries(system):
    async def fault(traffic):
        for fraction in (0.2, 0.5):
            await traffic.reached(fraction)
            await asyncio.to_thread(system.sigkill, "api-1")  # uvicorn starts another
            await asyncio.sleep(2)
    traffic = await drill(system, fault)
    assert traffic.statuses[0], "no request was cut off: the kill missed the burst"


async def test_postgres_crash_and_restart_answers_503_never_500_and_recovers(system):
    async def fault(traffic):
        await traffic.reached(0.3)
        await asyncio.to_thread(postgres.stop_postgres, system.local, "immediate")
        await asyncio.sleep(5)
        await asyncio.to_thread(postgres.ensure_postgres, system.local)
    traffic = await drill(system, fault)
    assert traffic.statuses[503], f"nothing was answered 503 while PostgreSQL was down: {traffic.statuses}"


async def test_all_of_kafka_stopped_for_30_s_while_the_api_keeps_accepting(system):
    window = {}

    async def fault(traffic):
        await traffic.reached(0.02)  # early: the burst must still run once every node is down
        began = time.monotonic()
        await asyncio.to_thread(kafka.stop_kafka, system.local)
        window.update(stop_seconds=time.monotonic() - began, before=traffic.inbound_accepted,
                      burst_done=traffic.running.done())
        await asyncio.sleep(KAFKA_DOWN_FOR)
        window["accepted"] = traffic.inbound_accepted - window["before"]
        await asyncio.to_thread(kafka.ensure_kafka, system.local)
    # Spread over 60 s, as a firm's traffic is: the API takes 200+ texts/s, so an unspread
    # burst would be over while Kafka is still stopping (about 9 s for 3 nodes).
    await drill(system, fault, spread=60.0)
    # Steadily, not a trickle: the spread burst offers about 33 texts/s, and the relay's
    # restarts compete for the same 2 cores meanwhile.
    print(f"Kafka took {window['stop_seconds']:.1f} s to stop; accepted while it was down: "
          f"{window['accepted']} in {KAFKA_DOWN_FOR:.0f} s")
    assert not window["burst_done"], "the burst was over before Kafka was down: the drill missed its window"
    assert window["accepted"] >= 100, f"only {window['accepted']} texts accepted while Kafka was down"
