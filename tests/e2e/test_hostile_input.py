"""Findings 2, 3, 4 and 7 of issue 8, as a hostile or careless client would meet them on
the running stack. Each test failed on the code before the input policy (b10bde4)."""
from __future__ import annotations

import base64
import json

from adapters.simulated_handset import new_sid, post_signed
from tests.e2e.harness import Firm, eventually, random_number
from tests.e2e.seed_steps import refused

RESOURCES = {"contacts": {"name": "Victim's client", "kind": "client", "phones": []},
             "cases": {"name": "Victim v. Nobody", "contact_ids": []}}


def forged(values: list) -> str:
    """A cursor as the old API made them (base64url of a JSON list), with the wrong types."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


async def raw_json(firm: Firm, method: str, path: str, text: str, user: str = "host", *perms: str):
    """Send ``text`` as the JSON body byte for byte (``\\ud800`` escapes survive)."""
    return await firm.http.request(method, path, content=text.encode(),
                                   headers={**firm.headers(user, *(perms or ("admin",))),
                                            "content-type": "application/json"})


async def test_one_firm_cannot_change_or_delete_another_firms_records(settings, http):
    """Finding 3: firm "F:x" + id "kc" was the same record as firm "F" + id "x:kc"."""
    victim = await Firm(settings, http).setup()
    attacker = Firm(settings, http, firm_id=victim.firm_id + ":x")
    told = {}
    for kind, body in RESOURCES.items():
        r = await victim.admin("PUT", f"/v1/{kind}/x:kc", body)
        if r.status_code == 200:
            told[kind] = body["name"]
        await attacker.admin("PUT", f"/v1/{kind}/kc", {**body, "name": "Overwritten by another firm"})
        await attacker.admin("DELETE", f"/v1/{kind}/kc")
    assert (await victim.admin("PUT", "/v1/contacts/marker", RESOURCES["contacts"])).status_code == 200

    async def contacts():
        r = await victim.as_user("alice", "GET", "/v1/contacts", params={"limit": 200})
        found = {c["id"]: c["name"] for c in r.json()["contacts"]}
        return found if "marker" in found else None
    found = await eventually(contacts)
    # What the victim was told it has, it still has, unchanged.
    if "contacts" in told:
        assert found.get("x:kc") == told["contacts"]
    if "cases" in told:
        assert (await victim.as_user("alice", "GET", "/v1/cases/x:kc/conversations")).status_code == 200
    # Now: ids outside the grammar are refused, and so is a token naming such a firm.
    refused(await victim.admin("PUT", "/v1/contacts/x:kc", RESOURCES["contacts"]), 422, "invalid_request")
    refused(await victim.admin("PUT", "/v1/users/x:kc", {"name": "X", "email": "x@firm.test"}), 422,
            "invalid_request")
    refused(await attacker.admin("PUT", "/v1/contacts/kc", RESOURCES["contacts"]), 401, "unauthenticated")


async def test_forged_cursors_are_422_and_keep_the_connection(firm):
    """Finding 4: cursors decoding to lists of the wrong types were 500s."""
    await firm.text_in(phone := random_number(), "hello")
    conv = await firm.conversation_with(phone)
    for path, param, values in (("/v1/inbox", "cursor", [[], {}]), ("/v1/contacts", "cursor", [{}, []]),
                                (f"/v1/conversations/{conv['id']}/messages", "before", [[]]),
                                (f"/v1/conversations/{conv['id']}/messages", "before", ["1; DROP"]),
                                ("/v1/notifications", "cursor", [1.5]), ("/v1/inbox", "cursor", ["x", "y"])):
        r = await firm.as_user("alice", "GET", path, params={param: forged(values)})
        refused(r, 422, "invalid_cursor")
        assert r.headers.get("connection") != "close"
    # A cursor this API issued still pages, and only for the firm and endpoint it was issued to.
    for _ in range(2):
        await firm.text_in(random_number(), "more")
    page = await eventually(lambda: _page(firm))
    assert (await firm.as_user("alice", "GET", "/v1/inbox", params={"limit": 1, "cursor": page})).status_code == 200
    refused(await firm.as_user("alice", "GET", "/v1/contacts", params={"cursor": page}), 422, "invalid_cursor")
    other = await Firm(firm.settings, firm.http).setup()
    refused(await other.as_user("alice", "GET", "/v1/inbox", params={"cursor": page}), 422, "invalid_cursor")


async def _page(firm: Firm) -> str | None:
    r = await firm.as_user("alice", "GET", "/v1/inbox", params={"limit": 1})
    return r.json()["next_cursor"]


async def test_lone_surrogates_in_json_are_422_not_500(firm):
    """Finding 4: a lone surrogate "\\ud800" in any JSON string was a 500."""
    await firm.text_in(phone := random_number(), "hello")
    conv = await firm.conversation_with(phone)
    for method, path, text, user in (
            ("PUT", "/v1/firm", '{"name": "\\ud800", "number": "%s"}' % firm.number, "host"),
            ("PUT", "/v1/firm", '{"name": "Law", "number": "%s", "help_text": "\\udfff"}' % firm.number, "host"),
            ("PUT", "/v1/users/bob", '{"name": "Bob", "email": "b\\ud800@firm.test"}', "host"),
            ("PUT", "/v1/users/bob", '{"name": "B\\ud83d", "email": "bob@firm.test"}', "host"),
            ("PUT", "/v1/contacts/k1", '{"name": "\\ud800", "kind": "client"}', "host"),
            ("PUT", "/v1/contacts/k1", '{"name": "K", "kind": "client", "phones": ["\\ud800"]}', "host"),
            ("PUT", "/v1/cases/k1", '{"name": "\\ud800"}', "host"),
            ("PUT", "/v1/cases/k1", '{"name": "Case", "contact_ids": ["\\ud800"]}', "host"),
            ("POST", f"/v1/conversations/{conv['id']}/messages", '{"body": "hi \\ud800"}', "alice"),
            ("POST", "/v1/conversations", '{"phone": "\\ud800"}', "alice"),
            ("POST", "/v1/conversations", '{"contact_id": "\\ud800"}', "alice")):
        r = await raw_json(firm, method, path, text, user, "admin" if user == "host" else "texting")
        assert r.status_code == 422, (path, text, r.status_code, r.text)
        assert set(r.json()) == {"error"} and r.json()["error"]["message"]


async def test_last_event_id_not_issued_is_422(firm):
    """Finding 4: "Last-Event-ID: ²" on the notification stream was a 500."""
    for value in ("\u00b2".encode("latin-1"), b"99999999999999999999999", b"-1", b"12abc", b"999999"):
        r = await firm.http.get("/v1/notifications/stream", headers={**firm.headers("alice"), "Last-Event-ID": value})
        refused(r, 422, "invalid_cursor")
        assert r.headers.get("connection") != "close"


async def test_control_characters_in_a_users_email_or_name_are_422(firm):
    """Finding 7: this email and name were answered 200, then stopped email for every firm."""
    evil = {"name": "Eve", "email": "evil@x.test\r\nBcc: spy@x.test", "permissions": ["texting"],
            "notify": {"email": "clients", "desktop": "none"}}
    refused(await firm.admin("PUT", "/v1/users/eve", evil), 422, "invalid_request")
    refused(await firm.admin("PUT", "/v1/users/eve", {**evil, "email": "eve@firm.test", "name": "Eve\r\nBcc: x"}),
            422, "invalid_request")
    refused(await firm.admin("PUT", "/v1/users/eve", {**evil, "email": "Eve <eve@firm.test>"}), 422,
            "invalid_request")
    assert (await firm.admin("PUT", "/v1/users/eve", {**evil, "email": "eve@firm.test"})).status_code == 200


async def test_what_postgres_cannot_store_is_refused_at_the_edge_not_lost(firm, settings):
    """Finding 2: a NUL in MediaContentType0 or in a contact's name was answered 200, then lost."""
    refused(await firm.admin("PUT", "/v1/contacts/nul", {"name": "Nul\u0000Name", "kind": "client"}), 422,
            "invalid_request")
    url = settings.public_url + "/webhooks/twilio/messages"
    sid, phone = new_sid("MM"), random_number()
    form = {"MessageSid": sid, "From": phone, "To": firm.number, "Body": "see attached", "NumMedia": "1",
            "MediaUrl0": settings.twilio_api_base + "/nothing.jpg", "MediaContentType0": "image/jpeg\u0000"}
    refused(await post_signed(firm.http, settings.twilio_auth_token, url, form), 422, "invalid_webhook")
    over_cap = {**form, "MessageSid": new_sid("SM"), "NumMedia": "0", "Body": "x" * 3201}
    del over_cap["MediaUrl0"], over_cap["MediaContentType0"]
    refused(await post_signed(firm.http, settings.twilio_auth_token, url, over_cap), 422, "invalid_webhook")
    huge = {**over_cap, "Body": "x" * 70_000}
    refused(await post_signed(firm.http, settings.twilio_auth_token, url, huge), 413, "too_large")
    big_json = {"name": "Case", "contact_ids": ["c"] * 100_000}
    refused(await firm.admin("PUT", "/v1/cases/big", big_json), 413, "too_large")
    # Nothing of the refused texts shows up; the next normal text does.
    await firm.text_in(phone, "a normal text")
    conv = await firm.conversation_with(phone)
    assert [m["body"] for m in await firm.messages(conv["id"])] == ["a normal text"]
    assert conv["unread"] == 1


async def test_a_streamed_body_over_the_cap_is_413_before_parsing(firm, settings):
    """No Content-Length to trust (chunked): the bytes are counted as they arrive."""
    async def chunks(total: int):
        for _ in range(total // 1024):
            yield b" " * 1024

    admin = {**firm.headers("host", "admin"), "content-type": "application/json"}
    refused(await firm.http.put("/v1/cases/big", content=chunks(300 * 1024), headers=admin), 413, "too_large")
    form = {"content-type": "application/x-www-form-urlencoded"}
    refused(await firm.http.post("/webhooks/twilio/messages", content=chunks(80 * 1024), headers=form), 413,
            "too_large")
    small = await firm.http.put("/v1/cases/small", content=chunks(2048), headers=admin)
    assert small.status_code in (400, 422) and set(small.json()) == {"error"}  # under the cap: parsed, not JSON


async def test_a_webhook_of_more_than_a_thousand_fields_is_400_and_keeps_nothing(firm, settings):
    """Unsigned or not, a form of 1,001 fields is refused before its signature is even
    checked, in the contract's shape, as Starlette's form parser refused it before the
    webhook parsed its own form (adapters/twilio_webhooks.py, ``form_fields``)."""
    url = settings.public_url + "/webhooks/twilio/messages"
    phone = random_number()
    form = {"MessageSid": new_sid("SM"), "From": phone, "To": firm.number, "Body": "flood", "NumMedia": "0",
            **{f"X{i}": "" for i in range(996)}}
    refused(await post_signed(firm.http, settings.twilio_auth_token, url, form), 400, "bad_request")
    del form["X0"]  # 1,000 fields: an ordinary (if odd) signed webhook
    assert (await post_signed(firm.http, settings.twilio_auth_token, url, form)).status_code == 200
    assert [m["body"] for m in await firm.messages((await firm.conversation_with(phone))["id"])] == ["flood"]
