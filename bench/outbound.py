"""Outbound: a staff POST until the text shows ``sent`` (issue 11: p99 ≤ 300 ms at 20 sends/s
over 20 firms).

20 firms, each with 5 conversations, send ``rate`` texts a second in all (round robin
over the firms, so each number sends ``rate / 20`` a second, within a Twilio long
code's pace) for ``seconds``. Each text's clock starts when its POST is made and stops
when ``pj_messages.messages`` shows it ``sent`` or beyond (polled by primary key every
10 ms): the API, the event store, the relay, Kafka, the worker's send agent and lane,
the carrier simulator's answer and its ``sent`` callback, the same way back.

Ceilings, in the same run: the POST's own answer time (the part before anything is
sent), a bare round trip to the carrier simulator's Messages API and the simulator's
pause before its ``sent`` callback (the parts the carrier takes), each p99; the target
itself is the figure's yardstick. ``stages_ms`` says where the time goes (from the
POST, by wall clock): the send agent recorded the text as due, a lane claimed it, the
carrier's answer was recorded, the text showed ``sent``. A warm-up text per firm goes
first, unmeasured: the stack has only just started.

``python -m bench.outbound`` alone (the bench's servers), or in ``make bench``.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import psycopg

from adapters.carrier_simulator import CALLBACK_DELAY

from bench.fairness import Firm, client_phone, on_stack, percentile

TARGET_P99_MS = 300.0
SHOWN = ("sent", "delivered", "undelivered", "failed")
POLL_SECONDS = 0.01


async def _watch(database_url: str, pending: dict[str, float], seen: dict[str, float], decided_at: dict[str, float],
                 stop: asyncio.Event) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SET enable_seqscan = off")  # by primary key, as bench/ingest.py's poller
        while not stop.is_set() or pending:
            if pending:
                rows = await (await conn.execute(
                    "SELECT message_id, extract(epoch FROM updated_at) FROM pj_messages.messages "
                    "WHERE message_id = ANY(%s) AND status = ANY(%s)", (list(pending), list(SHOWN)))).fetchall()
                now = time.perf_counter()
                for message_id, decided in rows:
                    seen[message_id] = now - pending.pop(message_id)
                    decided_at[message_id] = float(decided)
            await asyncio.sleep(POLL_SECONDS)


async def _carrier_round_trips(settings, count: int = 50) -> list[float]:
    """Bare sends to the simulator (its Messages API, no callback): the carrier's share."""
    url = f"{settings.twilio_api_base.rstrip('/')}/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json"
    auth = (settings.twilio_account_sid, settings.twilio_auth_token)
    times = []
    async with httpx.AsyncClient(timeout=10) as http:
        for i in range(count):
            began = time.perf_counter()
            r = await http.post(url, data={"From": "+15550000001", "To": client_phone(9000 + i), "Body": "ceiling"},
                                auth=auth)
            r.raise_for_status()
            times.append(time.perf_counter() - began)
    return times


async def measure(settings, stack=None, rate: float = 20.0, seconds: float = 15.0, firms: int = 20) -> dict:
    """Run the scenario on the stack of ``settings`` (API, relay, worker, simulator); with
    ``stack`` (its :class:`~firmtext.infra.stack.Stack`) also the CPU each process spent per
    text while the measured texts went through."""
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as http:
        tag = uuid.uuid4().hex[:6]
        made = [await Firm(settings, http, f"out-{tag}-{i:02d}", i).setup() for i in range(firms)]
        conversations = [(firm, await firm.conversation(client_phone(100 * i + j)))
                         for i, firm in enumerate(made) for j in range(5)]
        pending: dict[str, float] = {}
        seen: dict[str, float] = {}
        decided_at: dict[str, float] = {}  # message id -> when the API decided the status shown (wall clock)
        wall: dict[str, float] = {}  # message id -> wall-clock time its POST was made (stages)
        answers: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch(settings.database_url, pending, seen, decided_at, stop))

        async def send(n: int) -> None:
            firm, conversation = conversations[(n % firms) * 5 + (n // firms) % 5]
            began, began_wall = time.perf_counter(), time.time()
            r = await http.post(f"/v1/conversations/{conversation}/messages", headers=firm.headers,
                                json={"body": f"Reminder {n}: bring your ID."})
            assert r.status_code == 202, r.text
            answers.append(time.perf_counter() - began)
            pending[r.json()["message"]["id"]] = began
            wall[r.json()["message"]["id"]] = began_wall
        # Warm-up, not measured: one text per firm, until each shows sent (the stack has just
        # started: its consumers' first assignment, each number's first lane).
        await asyncio.gather(*(send(n) for n in range(firms)))
        while pending:
            await asyncio.sleep(0.05)
        seen.clear()
        answers.clear()
        wall.clear()  # the stages are the measured texts' too
        meter = None
        if stack is not None:
            from bench.run import cpu_meter

            meter = cpu_meter(settings, stack)
            meter.start()
        tasks, total, started = [], int(rate * seconds), time.perf_counter()
        for n in range(total):  # an open loop: sends go out on schedule, whatever the answers take
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(send(firms + n)))
        await asyncio.gather(*tasks)
        stop.set()
        try:
            await asyncio.wait_for(watcher, 60)
        except asyncio.TimeoutError:
            watcher.cancel()
        metered = time.perf_counter() - started
        cores = meter.cores() if meter is not None else {}
    carrier = await _carrier_round_trips(settings)
    stages = await _stages(settings.database_url, wall)
    stages["status_decided"] = _p([decided_at[m] - wall[m] for m in seen if m in wall and m in decided_at])
    latencies = sorted(seen.values())
    p99 = percentile(latencies, 0.99) * 1000 if latencies else float("inf")
    return {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "rate_per_second": rate, "seconds": seconds, "firms": firms, "sends": total,
            "shown_sent": len(latencies), "never_shown": len(pending),
            "sent_visible_p50_ms": round(percentile(latencies, 0.5) * 1000, 1) if latencies else None,
            "sent_visible_p99_ms": round(p99, 1), "sent_visible_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "post_answer_p99_ms": round(percentile(answers, 0.99) * 1000, 1),
            "carrier_round_trip_p99_ms": round(percentile(carrier, 0.99) * 1000, 1),
            "carrier_callback_wait_ms": CALLBACK_DELAY * 1000,
            "stages_ms": {"post_answered": _p(answers), **stages, "sent_visible": _p(latencies)},
            # CPU per measured text, by process, from the first measured POST until the last shown
            # (the load generator is this process: the POSTs and the 10 ms polling).
            "cpu_ms_per_text": {name: round(used * metered / total * 1000, 2) for name, used in cores.items()},
            "target_p99_ms": TARGET_P99_MS, "p99_to_target": round(p99 / TARGET_P99_MS, 3)}


def _p(values: list[float]) -> dict:
    values = sorted(values)
    return {"p50": round(percentile(values, 0.5) * 1000, 1), "p99": round(percentile(values, 0.99) * 1000, 1)} \
        if values else {}


async def _stages(database_url: str, wall: dict[str, float]) -> dict:
    """Where the time goes, from the POST (same machine, wall clock): the send agent recorded
    the text as due (the relay and Kafka crossed once), a lane claimed it, the carrier's
    answer was recorded; ``sent_visible`` adds the carrier's callback and a second crossing."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        rows = await (await conn.execute(
            "SELECT message_id, extract(epoch FROM recorded_at), extract(epoch FROM claimed_at), "
            "extract(epoch FROM done_at) FROM outbound_dispatches WHERE message_id = ANY(%s)",
            (list(wall),))).fetchall()
    picked = {"recorded_due": [], "claimed": [], "carrier_answer_recorded": []}
    for message_id, *times in rows:
        for name, at in zip(picked, times):
            if at is not None:
                picked[name].append(float(at) - wall[message_id])
    return {name: _p(values) for name, values in picked.items()}


def run_on_stack(settings) -> dict:
    """A stack of its own, with a carrier fast enough (10 texts/s per number) not to be the limit."""
    return on_stack(settings, measure, 10.0, with_stack=True)


def report(result: dict) -> str:
    return (f"POST → sent visible p50 {result['sent_visible_p50_ms']} ms, p99 {result['sent_visible_p99_ms']} ms "
            f"({result['p99_to_target']:.2f} of the {TARGET_P99_MS:.0f} ms target; POST answer p99 "
            f"{result['post_answer_p99_ms']} ms, carrier round trip p99 {result['carrier_round_trip_p99_ms']} ms)")


def main() -> int:
    from bench.steps import standalone

    return standalone("out", "outbound: 20 sends/s over 20 firms for 15 s, POST until the text shows sent",
                      run_on_stack, report, "outbound.json")


if __name__ == "__main__":
    raise SystemExit(main())
