"""Issue 2's promises over real HTTP, Kafka and PostgreSQL: a text in, a text out."""
import httpx

from adapters.twilio_signature import compute_signature
from tests.e2e.harness import eventually

CLIENT = "+15551230001"


async def test_a_text_in_shows_in_the_inbox_and_a_reply_reaches_delivered(firm, http, settings):
    await firm.text_in(CLIENT, "Is my hearing still on Monday?")
    conv = await firm.conversation_with(CLIENT)
    assert conv["last_message"]["body"] == "Is my hearing still on Monday?"
    assert conv["unread"] == 1

    r = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages",
                           json={"body": "Yes, 9am, courtroom 4."})
    assert r.status_code == 202, r.text
    assert r.json()["message"]["status"] == "queued"
    sent_id = r.json()["message"]["id"]

    async def delivered():
        msgs = await firm.messages(conv["id"])
        return next((m for m in msgs if m["id"] == sent_id and m["status"] == "delivered"), None)
    await eventually(delivered)
    carrier = (await http.get(f"{settings.twilio_api_base}/_sim/messages")).json()
    to_client = [m for m in carrier["messages"] if m["to"] == CLIENT and m["from"] == firm.number]
    assert [m["body"] for m in to_client] == ["Yes, 9am, courtroom 4."]


async def _post_form(http, settings, path, form, signature=None):
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await http.post(path, data=form, headers=headers)


async def test_forged_or_unsigned_webhooks_get_403_and_leave_no_trace(firm, http, settings):
    form = {"MessageSid": "SM" + "f" * 32, "From": "+15559990001", "To": firm.number, "Body": "forged",
            "NumMedia": "0"}
    unsigned = await _post_form(http, settings, "/webhooks/twilio/messages", form)
    forged = await _post_form(http, settings, "/webhooks/twilio/messages", form,
                              compute_signature("not-the-token", settings.public_url + "/webhooks/twilio/messages",
                                                form))
    assert unsigned.status_code == forged.status_code == 403
    assert unsigned.json()["error"]["code"] == "invalid_signature"
    # A signed text afterwards proves the pipeline is live; the forged one never shows up.
    await firm.text_in("+15559990002", "real")
    await firm.conversation_with("+15559990002")
    assert all(c["phone"] != "+15559990001" for c in await firm.inbox())


async def test_the_same_message_sid_twice_records_one_message(firm):
    sid = "SM" + "d" * 31 + "1"
    await firm.text_in(CLIENT, "only once", message_sid=sid)
    await firm.text_in(CLIENT, "only once", message_sid=sid)
    conv = await firm.conversation_with(CLIENT)
    await firm.text_in(CLIENT, "marker")  # ordered after the duplicate on the same partition

    async def settled():
        msgs = await firm.messages(conv["id"])
        return msgs if msgs and msgs[-1]["body"] == "marker" else None
    msgs = await eventually(settled)
    assert [m["body"] for m in msgs] == ["only once", "marker"]


async def test_bad_input_gets_the_contract_error_shape(firm, http):
    bad_phone = await firm.as_user("alice", "POST", "/v1/conversations", json={"phone": "call me maybe"})
    assert bad_phone.status_code == 422
    assert bad_phone.json()["error"]["code"] == "invalid_phone"
    malformed = await firm.as_user("alice", "POST", "/v1/conversations", content=b"{not json",
                                   headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "malformed_json"
    no_token = await http.get("/v1/inbox")
    assert no_token.status_code == 401 and no_token.json()["error"]["code"] == "unauthenticated"
    wrong_perm = await http.get("/v1/inbox", headers=firm.headers("bob", "admin"))
    assert wrong_perm.status_code == 403
    conv = (await firm.as_user("alice", "POST", "/v1/conversations", json={"phone": "(555) 010-0199"})).json()
    too_long = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages",
                                  json={"body": "x" * 1601})
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_body"
    media = await firm.as_user("alice", "POST", f"/v1/conversations/{conv['id']}/messages",
                               json={"body": "see attached", "media_url": "http://x/y.jpg"})
    assert media.status_code == 422 and media.json()["error"]["code"] == "media_not_supported"
    for r in (bad_phone, malformed, no_token, wrong_perm, too_long, media):
        assert "Traceback" not in r.text and set(r.json()) == {"error"}


async def test_another_firms_conversation_answers_404(firm, settings, http):
    from tests.e2e.harness import Firm

    other = await Firm(settings, http).setup()
    await firm.text_in(CLIENT, "private")
    conv = await firm.conversation_with(CLIENT)
    for path in (f"/v1/conversations/{conv['id']}", f"/v1/conversations/{conv['id']}/messages"):
        r = await other.as_user("alice", "GET", path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_voice_calls_are_rejected(firm, settings, http):
    from adapters.simulated_handset import inject_voice

    r = await inject_voice(settings, "+15551230009", to_number=firm.number, http=http)
    assert r.status_code == 200 and "<Reject/>" in r.text


async def test_health_readiness_metrics_and_openapi(http):
    assert (await http.get("/healthz")).status_code == 200
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert "firmtext_http_requests_total" in (await http.get("/metrics")).text
    spec = (await http.get("/openapi.json")).json()
    assert "/v1/conversations/{conversation_id}/messages" in spec["paths"]
