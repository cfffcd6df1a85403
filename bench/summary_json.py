"""bench/results/summary.json: one object per figure, with its value, the ceiling measured
in the same run, the ratio between them, and the issue's target, met or not.

Read from the result files the benchmarks wrote (a figure whose file is missing says so
instead of disappearing): ``python -m bench.summary_json`` rewrites it on its own.
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MAX_IN_FLIGHT = 64


def figure(name: str, value, unit: str, ceiling=None, ceiling_is: str | None = None, target=None,
           at_least: bool = True, note: str | None = None) -> dict:
    """One figure; ``at_least``: the target is a floor (else a cap)."""
    ratio = round(value / ceiling, 3) if isinstance(value, (int, float)) and ceiling else None
    met = None if target is None else False if value is None else (value >= target if at_least else value <= target)
    row = {"figure": name, "value": value, "unit": unit, "ceiling": ceiling, "ceiling_is": ceiling_is,
           "ratio": ratio, "target": target, "target_is": None if target is None else ("≥" if at_least else "≤"),
           "met": met}
    if note:
        row["note"] = note
    return row


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def missing(name: str, file: str, unit: str, target, at_least: bool = True) -> dict:
    return figure(name, None, unit, target=target, at_least=at_least, note=f"not measured: no {file}")


def ingest_figures(ingest: dict | None, ceilings: dict | None) -> list[dict]:
    if not ingest or not ceilings:
        return [missing("ingest", "ingest.json", "texts/s", 1500)]
    bare = {b["concurrency"]: b["accepted_per_second"] for b in ceilings["http_bare"]}
    levels = [lv for lv in ingest["levels"] if lv["concurrency"] <= MAX_IN_FLIGHT]
    best = max(levels, key=lambda lv: lv["accepted_per_second"])
    at = best["concurrency"]
    rows = [figure(f"ingest ({at} in flight)", round(best["accepted_per_second"]), "texts/s", round(bare.get(at, 0)),
                   "bare FastAPI/uvicorn endpoint, same load generator", 1500),
            figure(f"ingest share of bare HTTP ({at} in flight)",
                   round(best["accepted_per_second"] / bare[at], 3) if bare.get(at) else None, "ratio", 1.0,
                   "the bare endpoint itself", 0.20),
            figure(f"ingest visible p99 ({at} in flight)", best["visibility_p99_ms"], "ms",
                   best["response_p99_ms"], "the webhook's own answer time, p99", 500, at_least=False)]
    two = ingest.get("commit_executors_2")
    if two:
        same = next((lv for lv in ingest["levels"] if lv["concurrency"] == two["concurrency"]), best)
        rows.append(figure(f"ingest with 2 group-commit executors ({two['concurrency']} in flight)",
                           round(two["accepted_per_second"]), "texts/s", round(same["accepted_per_second"]),
                           "1 executor at the same level, same run"))
    texts = best["accepted_per_second"]
    cores = best.get("cores_used") or {}
    per_process = {name: round(used * 1000 / texts, 3) for name, used in cores.items()
                   if name != "load_generator"} if texts else {}
    total = round(sum(per_process.values()), 3)
    rows.append(figure(f"CPU per text, all processes ({at} in flight)", total, "ms", None, None, 1.0,
                       at_least=False, note="the issue's target: 3x below the 3 ms measured before it; per "
                                            "process: " + ", ".join(f"{k} {v}" for k, v in per_process.items())))
    return rows


def outbound_figures(outbound: dict | None) -> list[dict]:
    if not outbound:
        return [missing("outbound POST → sent visible p99", "outbound.json", "ms", 300, at_least=False)]
    return [figure(f"outbound POST → sent visible p99 ({outbound['rate_per_second']:g} sends/s, "
                   f"{outbound['firms']} firms)", outbound["sent_visible_p99_ms"], "ms",
                   round(outbound["post_answer_p99_ms"] + outbound["carrier_round_trip_p99_ms"]
                         + outbound.get("carrier_callback_wait_ms", 0), 1),
                   "the POST's own answer p99, a bare carrier round trip p99 and the carrier's wait "
                   "before its sent callback", 300, at_least=False,
                   note=f"measured {outbound['measured_at']}" if outbound.get("measured_at") else None),
            # The stack's own processes: not the carrier simulator, not the load generator.
            *([figure(f"CPU per outbound text, the stack's processes ({outbound['rate_per_second']:g} sends/s)",
                      round(sum(v for k, v in cpu.items() if k not in ("load_generator", "simulator")), 2), "ms",
                      note="per process: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))]
              if (cpu := outbound.get("cpu_ms_per_text")) else [])]


def projector_figures(projector: dict | None) -> list[dict]:
    if not projector:
        return [missing("live projector alone", "projector.json", "events/s", 10_000)]
    run = projector["projector"]
    copy = projector["ceilings"]["copy_same_rows"]["events_per_second_equivalent"]
    # Older results (before session 14) measured the writer keeping rows across batches.
    how = "rows kept across batches" if projector.get("keep_rows", True) else "rows read each batch, as the worker"
    return [figure(f"live projector alone, 1 process ({how})", run["events_per_second"], "events/s", copy,
                   "a bare COPY of the same rows (events/s equivalent); raw Kafka read "
                   f"{projector['ceilings']['kafka_read']['events_per_second']:,} events/s", 10_000),
            figure(f"live projector alone, 2 processes ({how})", projector["two_processes"]["events_per_second"],
                   "events/s", copy, "a bare COPY of the same rows (events/s equivalent)", 10_000)]


def consume_figures(consume: dict | None) -> list[dict]:
    """The worker's consuming alone (bench/consume.py), against a bare aiokafka loop."""
    if not consume:
        return [missing("worker consuming a backlog, 1 process", "consume.json", "events/s", None)]
    runs = {(r["consumer"], r["mode"]): r for r in consume["runs"]}
    worker, bare = runs[("worker", "backlog")], runs[("aiokafka", "backlog")]
    slow, bare_slow = runs[("worker", "trickle")], runs[("aiokafka", "trickle")]
    return [figure("worker consuming a backlog, both agents, sinks that count", round(worker["events_per_second"]),
                   "events/s", round(bare["events_per_second"]), "a bare aiokafka getmany loop, same run"),
            figure(f"worker's CPU per event consumed at {consume['trickle_rate_per_second']:,} events/s",
                   round(slow["cpu_us_per_event"], 1), "µs", round(bare_slow["cpu_us_per_event"], 1),
                   "a bare aiokafka getmany loop, same run", at_least=False)]


def distribution_figures(distribution: dict | None) -> list[dict]:
    """Ingest on 3 brokers per shape, against 1 API process + 1 worker in the same run (no
    target: on 2 cores this is the cost of distribution, issue 10)."""
    if not distribution:
        return [missing("ingest on 3 brokers by shape", "distribution.json", "texts/s", None)]
    base = distribution["shapes"][0]["accepted_per_second"]
    return [figure(f"ingest on 3 brokers, {row['api_processes']} API + {row['workers']} worker(s)",
                   round(row["accepted_per_second"]), "texts/s", round(base), "1 API process + 1 worker, same run")
            for row in distribution["shapes"]]


def cold_load_figures(cold: dict | None) -> list[dict]:
    if not cold:
        return [missing("cold load, 10,000 prior messages", "cold_load.json", "ms", 20, at_least=False)]
    rows = []
    for length, row in cold["lengths"].items():
        rows.append(figure(f"cold load, {int(length):,} prior messages", row["cold_load_ms"], "ms",
                           cold["ceilings"].get("one_event_read_ms"), "reading one event from the store",
                           20 if int(length) == 10_000 else None, at_least=False))
        rows.append(figure(f"per-text time, {int(length):,} prior messages", row["per_text_ms"], "ms",
                           cold["ceilings"].get("per_text_ms_at_0"), "the per-text time at 0 prior messages",
                           round(1.1 * cold["ceilings"]["per_text_ms_at_0"], 3) if int(length) == 10_000 else None,
                           at_least=False))
    return rows


def search_figures(search: dict | None) -> list[dict]:
    if not search:
        return [missing("contact search p99, 100,000 contacts", "contact_search.json", "ms", 50, at_least=False)]
    rows = []
    for kind, row in search["figures"].items():
        rows.append(figure(f"contact search p99, {search['contacts']:,} contacts, {kind.replace('_', ' ')}",
                           row["p99_ms"], "ms", row["ceiling"]["p99_ms"], "a bare indexed SELECT of the same shape",
                           50, at_least=False))
    return rows


def build() -> list[dict]:
    return [*ingest_figures(_load("ingest.json"), _load("ceilings.json")), *outbound_figures(_load("outbound.json")),
            *projector_figures(_load("projector.json")), *consume_figures(_load("consume.json")), *cold_load_figures(_load("cold_load.json")),
            *search_figures(_load("contact_search.json")), *distribution_figures(_load("distribution.json"))]


def write() -> list[dict]:
    rows = build()
    (RESULTS / "summary.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    return rows


if __name__ == "__main__":
    for row in write():
        state = {True: "met", False: "NOT met", None: "-"}[row["met"]]
        print(f"{row['figure']}: {row['value']} {row['unit']} (ceiling {row['ceiling']}, ratio {row['ratio']}; "
              f"target {row['target_is'] or ''}{row['target'] if row['target'] is not None else '-'}: {state})")
