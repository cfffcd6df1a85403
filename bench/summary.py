"""bench/results/summary.md: every figure next to its ceiling, the targets, the profile."""
from __future__ import annotations

from pathlib import Path

INGEST_TARGET, VISIBILITY_TARGET_MS, REBUILD_TARGET = 1_500, 500, 25_000  # issue 11's ingest target


def _ratio(value: float, ceiling: float) -> str:
    return f"{value / ceiling:.1%}" if ceiling else "n/a"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def fairness_lines(fairness: dict) -> list[str]:
    """The fair-sending section: firm B's time to the carrier behind firm A's backlog."""
    ok = fairness["missed"] == 0 and fairness["p99_seconds"] <= fairness["target_seconds"]
    return ["", "## Fair sending: another firm's text behind a 300-text backlog on its partition", "",
            f"Firm A queued {fairness['backlog']} texts (carrier paced at {fairness['carrier_rate_per_second']:g} "
            f"text/s per number); then {fairness['tries']} times a firm B on the same Kafka partition sent one. "
            "Time from B's POST to the simulator accepting it (the simulator's clock):", "",
            "| p50 | p99 | max | target | p99 / target | missed |", "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {fairness['p50_seconds']} s | {fairness['p99_seconds']} s | {fairness['max_seconds']} s | "
            f"{fairness['target_seconds']} s | {fairness['p99_to_target']:.2f} | {fairness['missed']} |", "",
            f"Target p99 ≤ {fairness['target_seconds']:g} s: {_met(ok)}. Firm A's number sent "
            f"{fairness['firm_a_sent_meanwhile']} texts meanwhile (its own pace)."]


def write_summary(results: Path, ceilings: dict, ingest: dict, rebuild: dict, seconds: float, cpus: int,
                  fairness: dict | None = None) -> str:
    producer = ceilings["kafka_producer"]["records_per_second"]
    consumer = ceilings["kafka_consumer"]["records_per_second"]
    copy_rate = ceilings["postgres_copy"]["rows_per_second"]
    bare = {b["concurrency"]: b["accepted_per_second"] for b in ceilings["http_bare"]}
    lines = [f"# Benchmarks ({cpus} CPUs, whole run {seconds / 60:.1f} min)", "",
             "Every figure is shown with its ratio to the ceiling measured in the same run. "
             "Details: ingest.json, rebuild.json, ceilings.json; how to read them: bench/README.md.", "",
             "## Ceilings", "",
             "| ceiling | rate |", "| --- | ---: |",
             f"| Kafka ProducerPerformance (620 B, acks=all, idempotent) | {producer:,} records/s |",
             f"| Kafka ConsumerPerformance | {consumer:,} records/s |",
             f"| psycopg COPY into an unindexed table | {copy_rate:,} rows/s |"]
    lines += [f"| bare FastAPI/uvicorn endpoint, {c} in flight | {r:,.0f} requests/s |" for c, r in bare.items()]
    lines += ["", "## Ingest: signed inbound webhooks → visible in pj_inbox", "",
              "| in flight | accepted texts/s | vs bare HTTP | response p50 / p99 | visible p50 | visible p99 "
              "| errors | not visible |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    best = None
    for lv in ingest["levels"]:
        lines.append(f"| {lv['concurrency']} | {lv['accepted_per_second']:,.0f} | "
                     f"{_ratio(lv['accepted_per_second'], bare.get(lv['concurrency'], 0))} | "
                     f"{lv['response_p50_ms']:,.0f} / {lv['response_p99_ms']:,.0f} ms | "
                     f"{lv['visibility_p50_ms']:,.0f} ms | "
                     f"{lv['visibility_p99_ms']:,.0f} ms | {lv['errors']} | {lv['not_visible_after_drain']} |")
        within = lv["concurrency"] <= 64 and lv["visibility_p99_ms"] <= VISIBILITY_TARGET_MS
        if within and (best is None or lv["accepted_per_second"] > best["accepted_per_second"]):
            best = lv
    lines += ["", "Cores used per process during each level (load and drain; 2 cores in all):", ""]
    for lv in ingest["levels"]:
        lines.append(f"- {lv['concurrency']} in flight: " + ", ".join(
            f"{name} {cores}" for name, cores in sorted(lv.get("cores_used", {}).items(), key=lambda kv: -kv[1])))
    ok = bool(best) and best["accepted_per_second"] >= INGEST_TARGET
    peak = max(ingest["levels"], key=lambda lv: lv["accepted_per_second"])
    lines += ["", f"Target ≥ {INGEST_TARGET:,} texts/s at ≤ 64 in flight with p99 visibility ≤ "
              f"{VISIBILITY_TARGET_MS} ms: {_met(ok)} — best so: "
              + (f"{best['accepted_per_second']:,.0f} texts/s at {best['concurrency']} in flight" if best else "none")
              + f"; peak {peak['accepted_per_second']:,.0f} texts/s "
              f"(p99 visibility {peak['visibility_p99_ms']:,.0f} ms)."]
    lines += fairness_lines(fairness) if fairness else []
    lines += ["", "## Rebuild: every projection from offset 0 into fresh schemas", "",
              f"Log: {rebuild['topic_fill']['events']:,} generated events, written at "
              f"{rebuild['topic_fill']['events_per_second']:,.0f} events/s by aiokafka "
              f"({_ratio(rebuild['topic_fill']['events_per_second'], producer)} of ProducerPerformance).", "",
              "| processes | events/s | vs Kafka consumer | rows written/s | vs COPY | seconds |",
              "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for run in rebuild["runs"]:
        rows_per_second = run["rows_written"] / run["seconds"]
        lines.append(f"| {run['jobs']} | {run['events_per_second']:,} | {_ratio(run['events_per_second'], consumer)} | "
                     f"{rows_per_second:,.0f} | {_ratio(rows_per_second, copy_rate)} | {run['seconds']} |")
    fastest = max(rebuild["runs"], key=lambda r: r["events_per_second"])
    lines += ["", f"Target ≥ {REBUILD_TARGET:,} events/s: {_met(fastest['events_per_second'] >= REBUILD_TARGET)} "
              f"({fastest['events_per_second']:,} events/s with {fastest['jobs']} process"
              f"{'es' if fastest['jobs'] > 1 else ''}).", "",
              "### Where the time goes", "",
              "Per-stage timers of each run (seconds, summed over processes; the stages overlap, so they add up "
              "to more than the wall time):", ""]
    for run in rebuild["runs"]:
        lines.append(f"- {run['jobs']} process(es): " + ", ".join(f"{k} {v}" for k, v in run["stages_seconds"].items())
                     + "; cores used: " + ", ".join(f"{k} {v}" for k, v in run.get("cores_used", {}).items()
                                                    if k != "load_generator"))
    per_event = rebuild["profile"]["microseconds_per_event"]
    lines += ["", f"CPU per event, single thread, {rebuild['profile']['events']:,} events: "
              + ", ".join(f"{k} {v} µs" for k, v in per_event.items()) + ".", "",
              "cProfile of the apply loop (prepare in memory + bulk write), top functions by own time:", "",
              "```", rebuild["profile"]["cprofile_top"].strip(), "```", ""]
    text = "\n".join(lines)
    (results / "summary.md").write_text(text)
    return text
