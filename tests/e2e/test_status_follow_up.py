"""A status callback that never arrives (Twilio posts each once; the API was down) does not
leave the text ``sent`` for ever: the sender asks the carrier (GET /Messages/{sid}.json)
once the final status is overdue, and the text shows what the carrier knows."""
from tests.e2e.harness import eventually, random_number


async def test_a_text_whose_callbacks_were_all_lost_still_shows_delivered(firm, running, http):
    simulator = running.settings.twilio_api_base
    phone = random_number()
    conversation = await firm.start_conversation(phone)
    r = await http.post(f"{simulator}/_sim/callbacks/lose", json={"count": 2})  # "sent" and "delivered"
    assert r.status_code == 200, r.text
    r = await firm.as_user("alice", "POST", f"/v1/conversations/{conversation}/messages",
                           json={"body": "Your hearing moved to Friday."})
    assert r.status_code == 202, r.text

    async def delivered():
        shown = await firm.messages(conversation)
        return shown[0] if shown and shown[0]["status"] == "delivered" else None
    message = await eventually(delivered, timeout=30, interval=0.5)
    [at_carrier] = (await http.get(f"{simulator}/_sim/messages", params={"to": phone})).json()["messages"]
    assert at_carrier["status"] == "delivered" and message["id"]


async def test_the_lost_callback_control_refuses_nonsense(running, http):
    simulator = running.settings.twilio_api_base
    for count in (-1, "2", True, 10**9):
        r = await http.post(f"{simulator}/_sim/callbacks/lose", json={"count": count})
        assert r.status_code == 400, (count, r.text)
