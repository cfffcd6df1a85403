"""Consent over the real stack: STOP and START keywords, the HELP answer, and the
carrier's 21610 refusal, with the consent history that proves each change."""
import asyncio

from tests.e2e.harness import eventually


async def _consent(firm, phone):
    r = await firm.as_user("alice", "GET", "/v1/consent", params={"phone": phone})
    assert r.status_code == 200, r.text
    return r.json()


async def test_stop_refuses_sends_start_restores_and_history_proves_it(firm):
    client = "+15554440001"
    await firm.text_in(client, "please stop texting me at work")  # a keyword inside a text changes nothing
    conv = await firm.conversation_with(client)
    assert (await _consent(firm, client))["opted_out"] is False
    await firm.text_in(client, "  Stop ")

    async def refused():
        r = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages", json={"body": "hi"})
        return r if r.status_code == 409 else None
    r = await eventually(refused)
    assert r.json()["error"]["code"] == "opted_out"
    assert (await firm.as_user("alice", "GET", f"/v1/conversations/{conv['id']}")).json()["opted_out"] is True

    await firm.text_in(client, "start")
    r = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages", json={"body": "welcome back"})
    assert r.status_code == 202

    async def history():
        consent = await _consent(firm, client)
        return consent if len(consent["history"]) == 2 else None
    consent = await eventually(history)
    assert [(h["change"], h["keyword"], h["source"]) for h in consent["history"]] == [
        ("opted_out", "STOP", "keyword"), ("opted_in", "START", "keyword")]
    assert all(h["message_id"] and h["at"] for h in consent["history"])
    never = await _consent(firm, "+15554449999")
    assert never == {"phone": "+15554449999", "conversation_id": None, "opted_out": False, "history": []}


async def test_help_is_answered_with_the_firms_help_text(firm, http, settings):
    r = await firm.admin("PUT", "/v1/firm", {"name": "Test Law", "number": firm.number,
                                             "help_text": "Test Law: call 555-0100. Reply STOP to opt out."})
    assert r.status_code == 200
    client = "+15554440002"
    await firm.text_in(client, "HELP")

    async def answered():
        carrier = (await http.get(f"{settings.twilio_api_base}/_sim/messages")).json()["messages"]
        return [m for m in carrier if m["to"] == client and m["from"] == firm.number]
    sent = await eventually(answered)
    assert [m["body"] for m in sent] == ["Test Law: call 555-0100. Reply STOP to opt out."]


async def test_carrier_refusal_21610_marks_the_number_opted_out(firm, http, settings):
    client = "+15554440003"
    conv = (await firm.as_user("alice", "POST", "/v1/conversations", json={"phone": client})).json()
    # The client opted out at the carrier only (e.g. STOP to another firm number path).
    await http.post(f"{settings.twilio_api_base}/_sim/inbound", json={"from": client, "to": firm.number,
                                                                       "body": "STOP"})
    sent = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages", json={"body": "hello?"})
    message_id = sent.json()["message"]["id"]

    async def failed():
        msgs = await firm.messages(conv["id"])
        return next((m for m in msgs if m["id"] == message_id and m["status"] == "failed"), None)
    message = await eventually(failed)
    assert message["error_code"] == 21610
    assert (await firm.as_user("alice", "GET", f"/v1/conversations/{conv['id']}")).json()["opted_out"] is True
    refused = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages", json={"body": "again"})
    assert refused.status_code == 409


async def test_print_view_holds_every_message_of_a_long_conversation(firm):
    client = "+15554440004"
    for start in range(0, 500, 50):
        await asyncio.gather(*(firm.text_in(client, f"line {i:03d}") for i in range(start, start + 50)))
    conv = await firm.conversation_with(client)

    async def printed():  # waits for the projection to hold all 500, then proves the page has them
        page = await firm.as_user("alice", "GET", f"/v1/conversations/{conv['id']}/print")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        return page.text if all(f"line {i:03d}" in page.text for i in range(500)) else None
    html = await eventually(printed, timeout=60, interval=1)
    assert "@media print" in html
