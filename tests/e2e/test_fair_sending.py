"""Issue 8, finding 5: one firm's bulk send must not delay another firm on its Kafka
partition. On a stack of its own whose carrier is paced like Twilio's long codes (1 text
a second per number), firm A queues 300 texts; then 20 times a firm B of the same
partition sends one. Each B text reaches the carrier (the simulator's own clock) within
2 s, p99 over the 20 tries."""
import uuid
from pathlib import Path

from bench.fairness import TARGET_SECONDS, measure
from firmtext.infra.daemon import free_port


async def test_a_backlog_of_300_texts_never_delays_another_firms_text(stack, test_settings, make_database):
    token = uuid.uuid4().hex[:8]
    http_port, simulator_port = free_port(), free_port()
    settings = test_settings.with_overrides(
        database_url=make_database(), events_topic=f"firmtext.events.fair{token}", app_id=f"firmtext-fair-{token}",
        http_port=http_port, public_url=f"http://127.0.0.1:{http_port}", simulator_port=simulator_port,
        twilio_api_base=f"http://127.0.0.1:{simulator_port}", smtp_port=free_port(),
        media_dir=Path(test_settings.var_dir) / "media" / token, carrier_rate_per_second=1.0)
    running = stack(settings=settings)
    try:
        result = await measure(settings, backlog=300, tries=20)
    finally:
        running.stop()  # firm A's backlog would keep this stack busy for minutes
    print(result)
    assert result["missed"] == 0, result
    assert result["firm_a_sent_meanwhile"] <= 20 + result["tries"] * 3, "firm A sent faster than 1/s"
    assert result["p99_seconds"] <= TARGET_SECONDS, result
