"""Pure parts of the web inbox's API: signed media links, the user's own notification
choice, and the per-firm wake-up of open streams."""
import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.http.event_stream import NotificationBell, firms_of
from adapters.http.routes_media import LINK_SECONDS, LINK_STEP, _signature, signed_path
from domain.errors import NotFound
from projections.writer import NOTIFY_PAYLOAD_MAX, notify_payload
from tests.unit.fakes import in_memory_texting


def test_a_link_lives_ten_to_fifteen_minutes_and_is_stable_within_a_step():
    path = signed_path("s3cret", "a" * 32, "firm-1", now=1_000_000)
    query = parse_qs(urlsplit(path).query)
    expires = int(query["expires"][0])
    assert LINK_SECONDS <= expires - 1_000_000 < LINK_SECONDS + LINK_STEP
    assert query["signature"][0] == _signature("s3cret", "a" * 32, "firm-1", expires)
    assert signed_path("s3cret", "a" * 32, "firm-1", now=1_000_001) == path  # same URL: the browser reuses it
    assert _signature("s3cret", "a" * 32, "firm-2", expires) != query["signature"][0]
    assert _signature("other", "a" * 32, "firm-1", expires) != query["signature"][0]


def test_choosing_notifications_keeps_what_the_host_platform_synced():
    texting = in_memory_texting()
    texting.sync_user("f1", "alice", "Alice", "a@f.test", ["texting"], "none", "none")
    user = texting.choose_notifications("f1", "alice", "clients", "both")
    assert (user.name, user.email, user.permissions, user.notify_email, user.notify_desktop) == (
        "Alice", "a@f.test", ["texting"], "clients", "both")
    with pytest.raises(NotFound):
        texting.choose_notifications("f2", "alice", "none", "none")  # another firm's alice does not exist


class _Event:
    def __init__(self, firm_id):
        self.firm_id = firm_id


def test_a_notify_names_the_firms_of_its_batch_or_everyone_when_too_many():
    assert firms_of(notify_payload([_Event("b"), _Event("a"), _Event("a")])) == {"a", "b"}
    huge = [_Event(f"firm-{n:06d}-" + "x" * 100) for n in range(NOTIFY_PAYLOAD_MAX // 50)]
    assert notify_payload(huge) == "" and firms_of("") is None
    assert firms_of("not json") is None


async def test_the_bell_wakes_only_the_streams_of_the_firms_named():
    bell = NotificationBell("postgresql://unused")
    bell._task = object()  # no LISTEN connection in a unit test
    a, b, anyone = bell.subscribe("a"), bell.subscribe("b"), bell.subscribe()
    bell.ring(frozenset({"a"}))
    await asyncio.sleep(0)
    assert (a.is_set(), b.is_set(), anyone.is_set()) == (True, False, True)
    bell.ring(None)
    assert b.is_set()


def test_a_signed_media_link_with_a_non_ascii_signature_is_refused_not_a_500():
    # Found by schemathesis: hmac.compare_digest raised TypeError on non-ASCII text.
    from fastapi.testclient import TestClient

    from adapters.http.app import create_app
    from firmtext.bootstrap import Container
    from firmtext.config import Settings

    with TestClient(create_app(Container(Settings()))) as client:
        r = client.get("/v1/media/" + "a" * 32 + "/signed", params={"firm": "f", "expires": 1, "signature": "é" * 64})
    assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature"
