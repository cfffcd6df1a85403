"""Issue 10: the carrier-side duplicate window. The carrier accepts a text but answers
late, and the worker is killed with SIGKILL while it waits: the text is at the carrier
but firmtext never recorded it. After the restart the sender asks the carrier (Twilio's
message list by From, To and DateSent) instead of sending again: the simulator counts
exactly one send, and the message carries the carrier's sid."""
import asyncio
import signal

from tests.e2e.harness import eventually, random_number


async def test_a_worker_killed_after_the_carrier_accepted_never_sends_the_text_twice(firm, running, http):
    simulator = running.settings.twilio_api_base
    phone = random_number()
    conversation = await firm.start_conversation(phone)
    r = await http.post(f"{simulator}/_sim/faults", json={"answer_delay": 30, "count": 1})
    assert r.status_code == 200, r.text
    r = await firm.as_user("alice", "POST", f"/v1/conversations/{conversation}/messages",
                           json={"body": "Your deposition is at 2pm."})
    assert r.status_code == 202, r.text

    async def at_the_carrier():
        return (await http.get(f"{simulator}/_sim/messages", params={"to": phone})).json()["messages"]
    [accepted] = await eventually(at_the_carrier, timeout=60)
    await asyncio.to_thread(running.kill, "worker", signal.SIGKILL)  # while the answer is still on its way
    await asyncio.to_thread(running.restart, "worker")

    async def dispatched():
        [message] = await firm.messages(conversation)
        return message if message["status"] in ("sent", "delivered") else None
    await eventually(dispatched, timeout=90, interval=0.5)
    await asyncio.sleep(2)  # a second send would show up now
    assert [m["sid"] for m in await at_the_carrier()] == [accepted["sid"]], "the carrier was asked twice"
