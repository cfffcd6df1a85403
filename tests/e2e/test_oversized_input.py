"""Issue 8, finding 1: one signed webhook with a 900,000-character body used to be
answered 200, crash the relay on every restart and take the whole stack down."""
from __future__ import annotations

from adapters.simulated_handset import post_signed
from tests.e2e.harness import eventually, random_number, run_cli


async def test_a_huge_inbound_body_is_refused_and_everything_keeps_working(firm, http, settings):
    form = {"MessageSid": "SM" + "b" * 32, "AccountSid": settings.twilio_account_sid, "From": random_number(),
            "To": firm.number, "Body": "x" * 900_000, "NumMedia": "0"}
    r = await post_signed(http, settings.twilio_auth_token, settings.public_url + "/webhooks/twilio/messages", form)
    assert r.status_code in (413, 422), r.text[:300]
    assert set(r.json()["error"]) == {"code", "message"}

    client = random_number()
    await firm.text_in(client, "a normal text after the huge one")
    conversation = await firm.conversation_with(client)
    assert conversation["last_message"]["body"] == "a normal text after the huge one"

    async def relay_is_active():
        ready = (await http.get("/readyz")).json()
        return ready["status"] == "ready" and ready["relay"]["state"] == "active" and ready
    ready = await eventually(relay_is_active)
    assert ready["relay"]["set_aside"] == 0
    assert 'firmtext_relay_state{state="active"} 1.0' in (await http.get("/metrics")).text


async def test_after_the_hostile_tests_the_log_still_verifies(firm, settings):
    """Runs after test_hostile_input and test_input_property (file order) on the same stack:
    whatever they sent, every stored event reached the log intact and in order."""
    await firm.text_in(random_number(), "one more normal text")
    code, out, err = await run_cli(settings, "audit", "verify")
    assert code == 0 and out.startswith("OK: "), out + err
