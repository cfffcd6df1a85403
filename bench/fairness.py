"""Fair sending: how long one firm's text takes to reach the carrier while another firm
on the same Kafka partition holds a backlog (issue 8: target p99 <= 2 s with 300 queued).

Firm A queues ``backlog`` texts (to 30 clients) through the API; then, ``tries`` times,
a firm B of the same partition sends one text. The clock is the carrier simulator's own
record of when it accepted each message, against the moment B's POST was made. The
stack must pace the carrier like Twilio does a long code (``FIRMTEXT_CARRIER_RATE=1``),
or A's backlog would drain before it could delay anyone.

``python -m bench.fairness`` runs it on a stack of its own (the bench's servers);
bench/run.py runs :func:`measure` as part of ``make bench``; tests/e2e use it too.
"""
from __future__ import annotations

import asyncio
import math
import time
import uuid

import httpx
from aiokafka.partitioner import DefaultPartitioner

from adapters.auth import issue_token

TARGET_SECONDS = 2.0


def partition_of(firm_id: str, partitions: int) -> int:
    """The partition the relay's producer puts ``firm_id``'s events on (key = firm id)."""
    every = list(range(partitions))
    return DefaultPartitioner()(firm_id.encode(), every, every)


def firms_on_one_partition(count: int, partitions: int) -> list[str]:
    """``count`` fresh firm ids whose events share one partition."""
    first = f"fair-{uuid.uuid4().hex[:8]}"
    chosen, target = [first], partition_of(first, partitions)
    while len(chosen) < count:
        candidate = f"fair-{uuid.uuid4().hex[:8]}"
        if partition_of(candidate, partitions) == target:
            chosen.append(candidate)
    return chosen


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 20 tries is the slowest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Firm:
    """A firm set up through the API, with one texting user and conversations."""

    def __init__(self, settings, http: httpx.AsyncClient, firm_id: str, index: int) -> None:
        self.http, self.firm_id, self.number = http, firm_id, f"+1555{index:03d}{uuid.uuid4().int % 10_000:04d}"
        self.headers = {"Authorization": f"Bearer {issue_token(settings.jwt_secret, firm_id, 'alice', ['texting'])}"}
        self.admin = {"Authorization": f"Bearer {issue_token(settings.jwt_secret, firm_id, 'host', ['admin'])}"}

    async def setup(self) -> "Firm":
        for path, body in (("/v1/firm", {"name": self.firm_id, "number": self.number}),
                           ("/v1/users/alice", {"name": "Alice", "email": "alice@fair.test",
                                                "permissions": ["texting"]})):
            (await self.http.put(path, json=body, headers=self.admin)).raise_for_status()
        return self

    async def conversation(self, phone: str) -> str:
        r = await self.http.post("/v1/conversations", json={"phone": phone}, headers=self.headers)
        r.raise_for_status()
        return r.json()["id"]

    async def send(self, conversation_id: str, body: str) -> None:
        r = await self.http.post(f"/v1/conversations/{conversation_id}/messages", json={"body": body},
                                 headers=self.headers)
        assert r.status_code == 202, r.text


def client_phone(n: int) -> str:
    return f"+1555{uuid.uuid4().int % 1000:03d}{n % 1000:03d}1"  # never the simulator's magic 0009/0010


async def arrival(http: httpx.AsyncClient, simulator: str, to: str, timeout: float) -> float | None:
    """When the carrier accepted the first text to ``to`` (epoch seconds), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = (await http.get(f"{simulator}/_sim/messages", params={"to": to})).json()
        if found["messages"]:
            return found["accepted_at"][found["messages"][0]["sid"]]
        await asyncio.sleep(0.02)
    return None


async def measure(settings, backlog: int = 300, tries: int = 20, timeout: float = 30.0) -> dict:
    """Run the scenario on the stack of ``settings``; returns the figures (seconds)."""
    simulator = settings.twilio_api_base.rstrip("/")
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as http:
        ids = firms_on_one_partition(1 + tries, settings.topic_partitions)
        firm_a = await Firm(settings, http, ids[0], 0).setup()
        others = [await Firm(settings, http, firm_id, i).setup() for i, firm_id in enumerate(ids[1:], start=1)]
        phones = [client_phone(i + 1) for i in range(tries)]
        b_conversations = [await firm.conversation(phone) for firm, phone in zip(others, phones)]
        a_conversations = [await firm_a.conversation(client_phone(5000 + i)) for i in range(30)]
        semaphore = asyncio.Semaphore(8)

        async def queue_a(i: int) -> None:
            async with semaphore:
                await firm_a.send(a_conversations[i % 30], f"Reminder {i}: your documents are due.")
        began = time.monotonic()
        await asyncio.gather(*(queue_a(i) for i in range(backlog)))
        queued_seconds = time.monotonic() - began
        latencies, missed = [], 0
        for firm, conversation, phone in zip(others, b_conversations, phones):
            sent_at = time.time()
            await firm.send(conversation, "Your hearing moved to 10am.")
            accepted_at = await arrival(http, simulator, phone, timeout)
            if accepted_at is None:
                missed += 1
                latencies.append(timeout)
            else:
                latencies.append(accepted_at - sent_at)
        a_sent = len((await http.get(f"{simulator}/_sim/messages")).json()["messages"]) - (tries - missed)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return {"backlog": backlog, "tries": tries, "carrier_rate_per_second": settings.carrier_rate_per_second,
            "partition": partition_of(ids[0], settings.topic_partitions), "queue_seconds": round(queued_seconds, 2),
            "firm_a_sent_meanwhile": a_sent, "missed": missed, "latencies": [round(x, 3) for x in latencies],
            "p50_seconds": round(p50, 3), "p99_seconds": round(p99, 3), "max_seconds": round(max(latencies), 3),
            "target_seconds": TARGET_SECONDS, "p99_to_target": round(p99 / TARGET_SECONDS, 3)}


def on_stack(settings, measure_on, carrier_rate: float, with_stack: bool = False) -> dict:
    """Start a stack of its own for ``settings`` with the carrier paced at ``carrier_rate``
    texts/s per number, run ``measure_on(settings)`` on it (``measure_on(settings, stack)``
    with ``with_stack``: to meter its processes), stop it."""
    from firmtext.infra.daemon import free_port
    from firmtext.infra.stack import Stack

    paced = settings.with_overrides(carrier_rate_per_second=carrier_rate, smtp_port=free_port())
    stack = Stack(paced)
    try:
        stack.start(["migrate", "simulator", "api", "relay", "worker"])
        return asyncio.run(measure_on(paced, stack) if with_stack else measure_on(paced))
    finally:
        stack.stop()


def run_on_stack(settings) -> dict:
    """The carrier paced like a Twilio long code, 1 text/s per number; the stack stops after
    (firm A's backlog would keep it busy for minutes)."""
    return on_stack(settings, measure, 1.0)


def report(result: dict) -> str:
    """One line for the bench's log."""
    return (f"firm B's text reached the carrier in p50 {result['p50_seconds']} s, p99 {result['p99_seconds']} s "
            f"({result['p99_to_target']:.2f} of the 2 s target; {result['missed']} missed)")


def main() -> int:
    from bench.steps import standalone

    return standalone("fair", "fairness: firm A queues 300 texts, then firm B (same partition) sends one, 20 times",
                      run_on_stack, report, "fairness.json")


if __name__ == "__main__":
    raise SystemExit(main())
