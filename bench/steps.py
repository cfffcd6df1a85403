"""The benchmarks of ``make bench`` that need only the bench's servers (bench/run.py runs
them in this order), each writing its results/*.json, and summary.json at the end."""
from __future__ import annotations

import json

from bench.run import RESULTS


def before_rebuild(ready, run_id: str, say) -> dict:
    """Fair sending, outbound latency, contact search and conversation length; returns the
    fairness figures (summary.md has a section for them)."""
    from bench import cold_load, contact_search, fairness as fairness_bench, outbound
    from firmtext.infra.postgres import server_url

    say("fairness: firm A queues 300 texts (carrier at 1/s per number), firm B on its partition sends one, 20 times")
    fairness = fairness_bench.run_on_stack(ready)
    (RESULTS / "fairness.json").write_text(json.dumps(fairness, indent=2))
    say("  " + fairness_bench.report(fairness))

    say("outbound: 20 sends/s over 20 firms for 15 s, POST until the text shows sent")
    sent = outbound.run_on_stack(ready)
    (RESULTS / "outbound.json").write_text(json.dumps(sent, indent=2))
    say("  " + outbound.report(sent))

    say("contact search: 100,000 contacts in one firm, searches by 3-4 digits and by name")
    found = contact_search.main(ready)["summary"]
    say(f"  p99 {found['value_ms']} ms (bare indexed SELECT {found['ceiling_ms']} ms; target 50 ms)")

    say("conversation length: cold load and per-text time at 0 / 1,000 / 10,000 prior messages")
    length = cold_load.run_on(server_url(ready), ready, f"bench_len_{run_id}")
    (RESULTS / "cold_load.json").write_text(json.dumps(length, indent=2))
    say("  " + cold_load.report(length))
    return fairness


def after_rebuild(ready, say) -> None:
    from bench import consume, projector
    from firmtext.bootstrap import kafka_bootstrap_of

    projector.bench_step(ready, say)  # results/projector.json
    say("the worker's consuming alone (sinks that count): a backlog, then 1,000 events/s; bare aiokafka beside it")
    consume.run(kafka_bootstrap_of(ready), say)  # results/consume.json


def write_figures(say) -> None:
    from bench import summary_json

    rows = summary_json.write()
    met = sum(1 for r in rows if r["met"] is True)
    missed = [r["figure"] for r in rows if r["met"] is False]
    say(f"summary.json: {len(rows)} figures, {met} targets met, not met: {', '.join(missed) or 'none'}")


def distribution_step() -> None:
    """bench/distribution.py after the rest (its 3 nodes never share the CPU with the
    single broker's run); its table is appended to summary.md. BENCH_DISTRIBUTION=0 skips it."""
    from bench import distribution

    result = distribution.run()
    table = distribution.markdown(result["shapes"])
    with open(RESULTS / "summary.md", "a") as summary:
        summary.write(f"\n## Distribution: ingest on 3 Kafka nodes, {result['concurrency']} in flight, "
                      f"{result['cpus']} CPUs\n\nThe cost of more processes on the same cores, not a "
                      f"scaling figure (bench/distribution.py).\n\n{table}\n")
    print(table)
    from bench import summary_json

    summary_json.write()  # the distribution figures join summary.json


def standalone(tag: str, title: str, run_on_stack, report, filename: str) -> int:
    """``python -m bench.<name>``: ``run_on_stack`` on the bench's own servers (bench/run.py's
    settings), with a database and topic of its own; writes results/``filename``."""
    import time

    from bench.run import bench_settings, ensure_jars, say
    from firmtext.infra.postgres import create_database, server_url
    from firmtext.infra.services import start_infrastructure, stop_infrastructure

    settings = bench_settings()
    ensure_jars(settings)
    infra = start_infrastructure(settings)
    run_id = f"{int(time.time()):x}"
    ready = infra.settings.with_overrides(events_topic=f"firmtext.events.{tag}{run_id}", app_id=f"bench-{tag}-{run_id}")
    ready = ready.with_overrides(database_url=create_database(server_url(ready), f"bench_{tag}_{run_id}"))
    try:
        say(title)
        result = run_on_stack(ready)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / filename).write_text(json.dumps(result, indent=2))
        say("  " + report(result))
        return 0
    finally:
        stop_infrastructure(settings, infra.started)
