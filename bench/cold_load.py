"""Cost against a conversation's length: cold load and per-text time at 0 / 1,000 / 10,000
prior messages (issue 11, "cost flat in conversation length").

``.venv/bin/python -m bench.cold_load`` (also run by bench/run.py): a fresh database on the
PostgreSQL of the ``FIRMTEXT_*`` environment; for each length one conversation is filled
with that many inbound texts (in group-commit units of 250), then:

- *cold load*: the conversation read (a snapshot, then the events after it) by an application with no aggregate cache (a restart,
  a cache miss, another API process), median of ``BENCH_COLD_TRIES`` (15);
- *per text*: one more inbound text through ``Texting.receive_inbound`` (its own unit and
  transaction), warm cache, median of ``BENCH_TEXT_TRIES`` (40).

The three lengths take turns sample by sample, so a slow moment of the machine weighs on
all of them alike (run one after the other, the 10,000/0 ratio swung 0.90-1.58).

Same-run ceilings: the per-text time at 0 prior messages (the target: within 10 % of it
at 10,000), and one primary-key read of the events table (the floor of any cold load).
Writes bench/results/cold_load.json.
"""
from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from pathlib import Path

LENGTHS = (0, 1_000, 10_000)
RESULTS = Path(__file__).resolve().parent / "results"


def _median_ms(fn, tries: int) -> float:
    samples = []
    for _ in range(tries):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(samples), 2)


def _interleaved(calls: dict, tries: int) -> dict:
    """Median ms of each call, the calls taking turns ``tries`` times."""
    samples = {name: [] for name in calls}
    for _ in range(tries):
        for name, fn in calls.items():
            began = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - began) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in samples.items()}


def _fill(texting, firm: str, phone: str, count: int) -> None:
    from domain.use_cases_conversation import receive_inbound

    sent = 0
    while sent < count:
        uow = texting.unit()
        for _ in range(min(250, count - sent)):
            receive_inbound(uow, firm, phone, f"SM{uuid.uuid4().hex}", f"text {sent}")
            sent += 1
        uow.commit()


def measure(database_url: str, settings) -> dict:
    from adapters.keystore import PostgresKeyStore
    from adapters.sealer import AesGcmSealer, master_key_bytes
    from domain.ids import conversation_id_of
    from domain.texting import Texting
    from firmtext.bootstrap import Container, eventsourcing_env

    container = Container(settings.with_overrides(database_url=database_url), pool_size=4)
    texting = container.texting
    cold_env = {**eventsourcing_env(database_url, 2), "AGGREGATE_CACHE_MAXSIZE": ""}
    cold = Texting(AesGcmSealer(PostgresKeyStore(container.pool), master_key_bytes(settings.master_key)), env=cold_env)
    tries_cold, tries_text = int(os.environ.get("BENCH_COLD_TRIES", 15)), int(os.environ.get("BENCH_TEXT_TRIES", 40))
    firm = "bench-length"
    texting.configure_firm(firm, "Length LLP", "+15557000000")
    conversations = {}
    for i, length in enumerate(LENGTHS):
        phone = f"+1555710{i:04d}"
        _fill(texting, firm, phone, length)
        texting.receive_inbound(firm, phone, f"SM{uuid.uuid4().hex}", "first of the measured")
        conversations[length] = (phone, conversation_id_of(firm, container.sealer.phone_hash(firm, phone)))
    # The lengths take turns, sample by sample: a slow moment of the machine (2 cores shared
    # with PostgreSQL) lands on all of them alike instead of on whichever ran then.
    cold_ms = _interleaved({n: (lambda c=c: cold.repository.get(c)) for n, (_, c) in conversations.items()},
                           tries_cold)
    text_ms = _interleaved({n: (lambda p=p: texting.receive_inbound(firm, p, f"SM{uuid.uuid4().hex}", "one more"))
                            for n, (p, _) in conversations.items()}, tries_text)
    rows = {n: {"cold_load_ms": cold_ms[n], "per_text_ms": text_ms[n],
                "events": texting.repository.get(c).version} for n, (_, c) in conversations.items()}
    conv_id = conversations[LENGTHS[-1]][1]
    floor = _median_ms(lambda: cold.recorder.select_events(conv_id, limit=1), tries_cold)
    cold.close()
    container.close()
    base, longest = rows[0]["per_text_ms"], rows[LENGTHS[-1]]["per_text_ms"]
    return {"lengths": rows, "ceilings": {"per_text_ms_at_0": base, "one_event_read_ms": floor},
            "per_text_ratio_10000_to_0": round(longest / base, 3) if base else None,
            "targets": {"cold_load_10000_ms": {"target": 20.0, "value": rows[LENGTHS[-1]]["cold_load_ms"],
                                               "met": rows[LENGTHS[-1]]["cold_load_ms"] <= 20.0},
                        "per_text_10000_within_10_percent": {"target": 1.10, "value": round(longest / base, 3),
                                                              "met": longest <= base * 1.10}}}


def run_on(server: str, settings, name: str) -> dict:
    """The benchmark on a fresh database ``name`` of the PostgreSQL at ``server`` (a URL)."""
    import psycopg

    from firmtext.commands.migrate import apply_tables
    from firmtext.infra.postgres import create_database

    url = create_database(server, name)
    with psycopg.connect(url, autocommit=True) as conn:
        apply_tables(conn)
    return measure(url, settings)


def report(result: dict) -> str:
    rows = result["lengths"]
    return "; ".join(f"{n:,} prior: cold load {r['cold_load_ms']} ms, per text {r['per_text_ms']} ms"
                     for n, r in rows.items()) + f" (per-text ratio 10,000/0: {result['per_text_ratio_10000_to_0']})"


def main() -> int:
    from firmtext.config import Settings
    from firmtext.infra.postgres import ensure_postgres

    settings = Settings.from_env()
    result = run_on(ensure_postgres(settings, database="postgres"), settings, f"bench_len_{uuid.uuid4().hex[:8]}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cold_load.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
