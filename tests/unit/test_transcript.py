"""The printable transcript: escaping, time zones, completeness, inline images."""
import base64
import re
from datetime import datetime, timezone

from fastapi.testclient import TestClient

from adapters.auth import issue_token
from adapters.http.app import create_app
from adapters.render.transcript import render_transcript
from firmtext.bootstrap import Container
from firmtext.config import Settings
from tests.unit.fakes import in_memory_texting
from tests.unit.test_media_sniff import png

FIRM = {"name": "Hale & Partners", "number": "+15550000000", "time_zone": "America/New_York"}
CONVERSATION = {"phone": "+15557654321", "contacts": [{"id": "c1", "name": "Dana Client", "kind": "client"}],
                "cases": [{"id": "k1", "name": "Estate of Doe"}], "opted_out": False}
USERS = {"u1": "Ann Lawyer"}
AT = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)


def message(n: int, direction: str = "inbound", body: str = "hello", **extra) -> dict:
    return {"id": f"m{n}", "seq": n, "direction": direction, "body": body, "media": [], "rejected_media": [],
            "sender_user_id": "u1" if direction == "outbound" else None,
            "status": "received" if direction == "inbound" else "delivered", "error_code": None,
            "created_at": "2024-07-01T16:30:00+00:00", **extra}


def render(messages, images=None) -> str:
    return render_transcript(FIRM, CONVERSATION, messages, USERS, images or {}, generated_at=AT)


def test_untrusted_text_is_escaped():
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = render([message(1, body=hostile)])
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    contact = {**CONVERSATION, "contacts": [{"name": "</title><script>1</script>", "kind": "lead"}]}
    page = render_transcript(FIRM, contact, [], USERS, {}, generated_at=AT)
    assert "<script>" not in page and "&lt;/title&gt;" in page


def test_times_are_in_the_firms_time_zone():
    page = render([message(1)])
    assert "2024-07-01 12:30 EDT" in page          # 16:30 UTC in New York in July
    assert "2024-07-01 08:00 EDT" in page          # generated at
    winter = render_transcript({**FIRM, "time_zone": "Europe/Paris"}, CONVERSATION,
                               [message(1, created_at="2024-01-15T23:30:00+00:00")], USERS, {}, generated_at=AT)
    assert "2024-01-16 00:30 CET" in winter
    unknown = render_transcript({**FIRM, "time_zone": "Mars/Olympus"}, CONVERSATION, [message(1)], USERS, {})
    assert "2024-07-01 16:30 UTC" in unknown


def test_every_message_of_a_long_conversation_is_printed():
    messages = [message(n, "inbound" if n % 2 else "outbound", body=f"note number {n}") for n in range(500)]
    page = render(messages)
    assert len(re.findall(r'<article class="msg', page)) == 500
    assert all(f"note number {n}<" in page for n in range(500))
    assert "<dd>500</dd>" in page


def test_header_sender_names_and_statuses():
    failed = message(2, "outbound", status="failed", error_code=30008)
    page = render([message(1), failed, message(3, "outbound", sender_user_id="system")])
    for expected in ("Hale &amp; Partners", "+15550000000", "+15557654321", "Dana Client (client)",
                     "Estate of Doe", "Dana Client</span> · Received", "Ann Lawyer</span> · Sent",
                     "failed (error 30008)", "Automatic reply", "@media print"):
        assert expected in page


def test_images_are_inline_and_rejections_listed():
    photo = png(b"exhibit")
    msg = message(1, media=[{"id": "a" * 32, "content_type": "image/png", "size": len(photo)},
                            {"id": "b" * 32, "content_type": "image/jpeg", "size": 2048}],
                  rejected_media=[{"index": 2, "reason": "unsupported_type", "content_type": "image/jpeg"},
                                  {"index": 10, "reason": "too_many", "content_type": "image/png"}])
    page = render([msg], {"a" * 32: photo})
    assert f'src="data:image/png;base64,{base64.b64encode(photo).decode()}"' in page
    assert "Image 2 of 2 (image/jpeg, 2 KB): no longer available" in page
    assert "Attachment 3 (image/jpeg) not kept: not a JPG, PNG or GIF image." in page
    assert "Attachment 11 (image/png) not kept: more than 10 images in one text." in page


class _Reads:
    """The read side the print route needs, without PostgreSQL."""

    def __init__(self, sealer, messages):
        self.sealer, self._messages = sealer, messages

    def links(self, firm_id, hashes):
        return {h: {"contacts": CONVERSATION["contacts"], "cases": CONVERSATION["cases"]} for h in hashes}

    def messages(self, firm_id, conversation_id, before, limit):
        assert limit is None, "the print view must ask for the whole conversation"
        return self._messages, None

    def user_directory(self, firm_id):
        return {"u1": {"user_id": "u1", "name": "Ann Lawyer"}}


class _Store:
    def __init__(self, files):
        self.files = files

    def get(self, conversation_id, media_id):
        return self.files.get(media_id)


def test_print_route_streams_the_whole_conversation():
    container = Container(Settings())
    texting = in_memory_texting()
    texting.configure_firm("f1", "Hale & Partners", "+15550000000", time_zone="America/Chicago")
    conv, _ = texting.open_conversation("f1", "+15557654321", "u1")
    photo = png(b"exhibit")
    msg = message(1, body="<b>bold?</b>", media=[{"id": "c" * 32, "content_type": "image/png", "size": 99}])
    container.__dict__.update(texting=texting, sealer=texting.sealer, reads=_Reads(texting.sealer, [msg]),
                              media_store=_Store({"c" * 32: photo}))
    secret = container.settings.jwt_secret
    with TestClient(create_app(container)) as client:
        page = client.get(f"/v1/conversations/{conv.id}/print",
                          headers={"Authorization": f"Bearer {issue_token(secret, 'f1', 'u1', ['texting'])}"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "private, no-store"
        assert "&lt;b&gt;bold?&lt;/b&gt;" in page.text and "11:30 CDT" in page.text
        assert base64.b64encode(photo).decode() in page.text and "+15557654321" in page.text
        other = client.get(f"/v1/conversations/{conv.id}/print",
                           headers={"Authorization": f"Bearer {issue_token(secret, 'f2', 'u9', ['texting'])}"})
        assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
        denied = client.get(f"/v1/conversations/{conv.id}/print",
                            headers={"Authorization": f"Bearer {issue_token(secret, 'f1', 'u1', ['admin'])}"})
        assert denied.status_code == 403
