""""Accepted means kept" (issue 8), as a property on the running stack: arbitrary Unicode
(NUL, lone surrogates sent as raw JSON escapes, RTL marks, emoji, 4-byte characters,
controls) in every text field of every command and webhook is either refused with the
contract's error or comes back byte-identical through the API (the print view holds it
HTML-escaped), and again after ``firmtext projections rebuild --all``.

Hypothesis runs derandomized with a few examples, each checking every field at once,
so the test is stable and bounded (~1 minute on a shared machine)."""
from __future__ import annotations

import asyncio
import html
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from adapters.phone import InvalidPhone, to_e164
from adapters.simulated_handset import new_sid, post_signed
from tests.e2e.harness import Firm, eventually, run_cli

SPECIAL = ["\x00", "\ud800", "\udfff", "\u200f", "\u202e", "\u2028", "😀", "👩‍⚖️", "𠀋", "\r\n", "\t",
           "\x1b", "\x7f", "\x85", "\ufeff", "<b>&amp;</b>", "'\"", "é", "e\u0301", " "]


def texts(surrogates: bool = True, max_size: int = 12, min_size: int = 0) -> st.SearchStrategy[str]:
    """Short strings mixing any code point with the characters that used to break things."""
    chars = st.characters(blacklist_categories=() if surrogates else ("Cs",))
    special = st.sampled_from([s for s in SPECIAL if surrogates or not ("\ud800" <= s[0] <= "\udfff")])
    return st.lists(st.one_of(chars, special, st.sampled_from(["a", "Z", "1", "-", "."])), min_size=min_size,
                    max_size=max_size).map("".join)


def phones() -> st.SearchStrategy[str]:
    return st.one_of(texts(surrogates=False), st.from_regex(r"\+1555[0-9]{7}", fullmatch=True),
                     st.from_regex(r"\(555\) [0-9]{3}-[0-9]{4}", fullmatch=True))


EXAMPLE = st.fixed_dictionaries({
    "firm_name": texts(), "help_text": texts(), "user_name": texts(), "email": st.one_of(
        texts(), texts(max_size=6).map(lambda t: f"{t}@firm.test")),
    "contact_name": texts(), "contact_phone": phones(), "contact_id": texts(min_size=1), "case_name": texts(),
    "body": texts(), "inbound_body": texts(surrogates=False), "inbound_from": phones(),
    "content_type": texts(surrogates=False)})


@dataclass
class Kept:
    """What the API accepted, and where it must come back: (what, path, how to find it, expected)."""

    checks: list[tuple] = field(default_factory=list)


def fresh_number() -> str:
    # Not random.*: Hypothesis seeds it per example (derandomize), which would repeat numbers.
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def raw(payload: dict) -> bytes:
    # ensure_ascii: a lone surrogate goes on the wire as the JSON escape \ud800, as a hostile client sends it.
    return json.dumps(payload, ensure_ascii=True).encode()


def refused_or_ok(r: httpx.Response) -> bool:
    """True when accepted (2xx); a refusal must be a 4xx in the contract's shape."""
    if r.status_code < 300:
        return True
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()) == {"error"} and r.json()["error"]["code"] and r.json()["error"]["message"], r.text
    return False


def e164_or_none(value: str) -> str | None:
    try:
        return to_e164(value)
    except InvalidPhone:
        return None


async def exercise(settings, example: dict, kept: Kept) -> None:
    """Every field of ``example`` into its own command or webhook; what is accepted is recorded."""
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as http:
        firm = await Firm(settings, http, number=fresh_number()).setup()
        admin = {**firm.headers("host", "admin"), "content-type": "application/json"}

        async def put(path: str, payload: dict) -> httpx.Response:
            return await http.put(path, content=raw(payload), headers=admin)

        r = await put("/v1/firm", {"name": example["firm_name"], "number": firm.number,
                                   "help_text": example["help_text"]})
        if refused_or_ok(r):
            kept.checks.append(("firm", firm, "/v1/firm", None, {"name": example["firm_name"],
                                                                  "help_text": example["help_text"]}))
        r = await put("/v1/users/bob", {"name": example["user_name"], "email": example["email"]})
        if refused_or_ok(r):  # no read endpoint for users: the answer is built from the stored aggregate
            assert (r.json()["name"], r.json()["email"]) == (example["user_name"], example["email"])
        phone = fresh_number()
        assert (await put("/v1/contacts/linked", {"name": "Linked", "kind": "client", "phones": [phone]})).is_success
        for contact_id, body in (("named", {"name": example["contact_name"], "kind": "lead"}),
                                 ("phoned", {"name": "Phoned", "kind": "client", "phones": [example["contact_phone"]]}),
                                 (example["contact_id"], {"name": "By id", "kind": "client"})):
            # Every character escaped, dots too: "." and ".." would be read as path segments.
            path = "/v1/contacts/" + quote(contact_id, safe="", errors="surrogatepass").replace(".", "%2E")
            if refused_or_ok(await put(path, body)):
                kept.checks.append(("contact", firm, "/v1/contacts", contact_id,
                                    {"name": body["name"], "phones": [to_e164(p) for p in body.get("phones", [])]}))
        case_ok = refused_or_ok(await put("/v1/cases/case-1", {"name": example["case_name"],
                                                                "contact_ids": ["linked"]}))
        await firm.text_in(phone, "hello")
        conv = await firm.conversation_with(phone)
        if case_ok:
            kept.checks.append(("case", firm, f"/v1/conversations/{conv['id']}", None, example["case_name"]))
        r = await http.post(f"/v1/conversations/{conv['id']}/messages", content=raw({"body": example["body"]}),
                            headers={**firm.headers("alice"), "content-type": "application/json"})
        if refused_or_ok(r):
            kept.checks.append(("message", firm, conv["id"], r.json()["message"]["id"], example["body"]))
        await webhooks(settings, http, firm, example, conv, phone, kept)


async def webhooks(settings, http, firm: Firm, example: dict, conv: dict, phone: str, kept: Kept) -> None:
    """Inbound Body, From and MediaContentType0, each in a signed webhook of its own."""
    url = settings.public_url + "/webhooks/twilio/messages"
    base = {"To": firm.number, "NumMedia": "0"}
    sid = new_sid("SM")
    r = await post_signed(http, settings.twilio_auth_token, url, {**base, "MessageSid": sid, "From": phone,
                                                                  "Body": example["inbound_body"]})
    if refused_or_ok(r):
        kept.checks.append(("inbound", firm, conv["id"], sid, example["inbound_body"]))
    sender = e164_or_none(example["inbound_from"])
    r = await post_signed(http, settings.twilio_auth_token, url, {**base, "MessageSid": new_sid("SM"),
                                                                  "From": example["inbound_from"], "Body": "from"})
    if refused_or_ok(r):
        assert sender is not None
        kept.checks.append(("sender", firm, "/v1/inbox", None, sender))
    sid = new_sid("MM")
    stored = await http.post(f"{settings.twilio_api_base}/_sim/media", params={"message_sid": sid},
                             content=b"not an image", headers={"Content-Type": "text/plain"})
    stored.raise_for_status()
    r = await post_signed(http, settings.twilio_auth_token, url, {
        **base, "MessageSid": sid, "From": phone, "Body": "attached", "NumMedia": "1",
        "MediaUrl0": stored.json()["url"], "MediaContentType0": example["content_type"]})
    if refused_or_ok(r):
        kept.checks.append(("declared_type", firm, conv["id"], sid, example["content_type"].strip()
                            or "application/octet-stream"))


async def verify(settings, kept: Kept) -> None:
    """Every accepted value comes back byte-identical (eventually: projections are asynchronous)."""
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as http:
        for what, firm, where, key, expected in kept.checks:
            firm.http = http
            await eventually(lambda: check_one(firm, what, where, key, expected), timeout=30)


async def check_one(firm: Firm, what: str, where: str, key, expected) -> bool:
    if what == "firm":
        got = (await firm.as_user("alice", "GET", where)).json()
        return {k: got[k] for k in expected} == expected
    if what == "contact":
        found = (await firm.as_user("alice", "GET", where, params={"limit": 200})).json()["contacts"]
        return any(c["id"] == key and {"name": c["name"], "phones": c["phones"]} == expected for c in found)
    if what == "case":
        return expected in [c["name"] for c in (await firm.as_user("alice", "GET", where)).json()["cases"]]
    if what == "sender":
        return expected in [c["phone"] for c in await firm.inbox()]
    messages = await firm.messages(where)
    printed = (await firm.as_user("alice", "GET", f"/v1/conversations/{where}/print")).text
    if what == "declared_type":
        return any(r["content_type"] == expected for m in messages for r in m["rejected_media"])
    bodies = [m["body"] for m in messages]
    return expected in bodies and (not expected or html.escape(expected, quote=True) in printed)


def test_every_input_is_refused_or_kept_through_the_api_and_a_rebuild(settings):
    kept = Kept()

    @given(example=EXAMPLE)
    # No shrinking: each example drives the whole stack; the failing example is printed as found.
    @hypothesis_settings(max_examples=8, derandomize=True, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    def one(example):
        checks_before = len(kept.checks)
        asyncio.run(exercise(settings, example, kept))
        asyncio.run(verify(settings, Kept(kept.checks[checks_before:])))

    one()
    # The property is not vacuous: many values were accepted, and not only plain ASCII ones.
    accepted = [str(check[-1]) for check in kept.checks]
    assert len(accepted) >= 16 and any(any(ord(ch) > 0xFFFF or ch in "\u200f\u202e" for ch in v) for v in accepted)
    code, out, err = asyncio.run(run_cli(settings, "projections", "rebuild", "--all"))
    assert code == 0, err
    assert "set aside" not in out  # nothing the edge accepted is unstorable
    asyncio.run(verify(settings, kept))
