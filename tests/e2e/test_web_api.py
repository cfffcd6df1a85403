"""What the web inbox added to the API, over HTTP against the whole stack: the page's
own route and CSP, /v1/me, /v1/users, signed media links, the per-firm inbox stream,
and ``firmtext open``. Each is tenant-safe."""
import asyncio
import re
import time

import httpx

from adapters.http.routes_media import signed_path
from tests.e2e.harness import Firm, eventually, random_number, run_cli
from tests.e2e.test_mms import PNG


async def test_the_page_is_served_with_a_strict_csp_and_no_inline_code(http):
    r = await http.get("/app/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text) and "style=" not in r.text and "<style" not in r.text
    assert not re.search(r"https?://", r.text)  # no CDN: everything from this origin
    for asset in re.findall(r'(?:src|href)="([\w.]+\.(?:js|css))"', r.text):
        served = await http.get(f"/app/{asset}")
        assert served.status_code == 200, asset
    assert (await http.get("/app", follow_redirects=False)).headers["location"] == "/app/"
    for bad in ("/app/..%2Fapp.py", "/app/routes_app.py", "/app/nothing.js", "/app/.hidden.js"):
        r = await http.get(bad)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", bad


async def test_me_tells_the_page_who_signed_in(firm):
    r = await firm.as_user("alice", "GET", "/v1/me")
    assert r.status_code == 200
    me = r.json()
    assert (me["id"], me["firm_id"], me["name"], me["texting"], me["synced"]) == ("alice", firm.firm_id, "Alice", True, True)
    assert me["notify"] == {"email": "none", "desktop": "none"}
    r = await firm.http.get("/v1/me", headers={"Authorization": f"Bearer {firm.token('carol', 'admin')}"})
    assert r.status_code == 200 and r.json()["texting"] is False and r.json()["synced"] is False
    r = await firm.http.get("/v1/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


async def test_a_user_sets_their_own_notifications_and_nothing_else_changes(firm):
    r = await firm.as_user("alice", "PUT", "/v1/me", json={"notify": {"desktop": "both"}})
    assert r.status_code == 200, r.text
    assert r.json()["notify"] == {"email": "none", "desktop": "both"}
    r = await firm.as_user("alice", "PUT", "/v1/me", json={"notify": {"email": "clients"}})
    assert r.json()["notify"] == {"email": "clients", "desktop": "both"}
    assert (r.json()["name"], r.json()["email"], r.json()["permissions"]) == ("Alice", "alice@firm.test", ["texting"])
    for body in ({"notify": {"email": "always"}}, {"notify": {}, "name": "Mallory"}, {"name": "x"}):
        bad = await firm.as_user("alice", "PUT", "/v1/me", json=body)
        assert bad.status_code == 422 and bad.json()["error"]["code"], body
    never_synced = await firm.as_user("zed", "PUT", "/v1/me", json={"notify": {"email": "both"}})
    assert never_synced.status_code == 404 and never_synced.json()["error"]["code"] == "not_found"


async def test_staff_names_are_the_firms_own(settings, http, firm):
    other = await Firm(settings, http).setup({"mallory": {"name": "Mallory"}})

    async def staff(of: Firm, user: str):  # the directory projection catches up with the sync
        r = await of.as_user(user, "GET", "/v1/users")
        assert r.status_code == 200
        return r.json()["users"]
    assert await eventually(lambda: staff(firm, "alice")) == [{"id": "alice", "name": "Alice"}]
    assert await eventually(lambda: staff(other, "mallory")) == [{"id": "mallory", "name": "Mallory"}]


async def _image_message(firm: Firm) -> dict:
    client = random_number()
    await firm.text_in(client, "my receipt", media=[(PNG, "image/png")])
    conversation = await firm.conversation_with(client)

    async def with_image():
        return next((m for m in await firm.messages(conversation["id"]) if m["media"]), None)
    return await eventually(with_image)


async def test_signed_media_links_work_without_a_token_for_their_own_firm_only(settings, http, firm):
    message = await _image_message(firm)
    media = message["media"][0]
    assert media["url"].startswith(f"/v1/media/{media['id']}/signed?")
    async with httpx.AsyncClient(base_url=settings.public_url) as anonymous:  # no Authorization at all
        r = await anonymous.get(media["url"])
        assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
        assert "no-store" in r.headers["cache-control"]

        other = await Firm(settings, http).setup()
        theirs = (await _image_message(other))["media"][0]["id"]
        # A link signed for my firm but naming the other firm's image: it is not mine.
        r = await anonymous.get(signed_path(settings.jwt_secret, theirs, firm.firm_id))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        # My image under the other firm's name, with my signature: forged.
        r = await anonymous.get(media["url"].replace(f"firm={firm.firm_id}", f"firm={other.firm_id}"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature"
        r = await anonymous.get(media["url"][:-4] + "0000")
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature"
        r = await anonymous.get(signed_path(settings.jwt_secret, media["id"], firm.firm_id, now=time.time() - 3600))
        assert r.status_code == 403 and r.json()["error"]["code"] == "link_expired"
        r = await anonymous.get(signed_path("another secret", media["id"], firm.firm_id))
        assert r.status_code == 403


async def _frames(settings, token: str, into: list, ready: asyncio.Event):
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=None) as client:
        async with client.stream("GET", "/v1/inbox/stream", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            async for line in r.aiter_lines():
                if line.startswith("retry:"):
                    ready.set()
                if line.startswith("event: "):
                    into.append(line[7:])


async def test_the_inbox_stream_wakes_only_the_firm_that_changed(settings, http, firm):
    other = await Firm(settings, http).setup()
    mine, theirs = [], []
    ready = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(_frames(settings, firm.token("alice"), mine, ready[0])),
             asyncio.create_task(_frames(settings, other.token("alice"), theirs, ready[1]))]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 10)
        await asyncio.sleep(1.5)  # the bell's first LISTEN rings everyone once
        mine.clear(), theirs.clear()
        await firm.text_in(random_number(), "only my firm changes")

        async def told():
            return "inbox" in mine
        await eventually(told, timeout=5)
        await asyncio.sleep(1.0)
        assert theirs == [], "another firm's page was woken by my firm's text"
        await other.text_in(random_number(), "now theirs")

        async def told_them():
            return "inbox" in theirs
        await eventually(told_them, timeout=5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_inbox_stream_needs_the_texting_permission(firm):
    r = await firm.http.get("/v1/inbox/stream", headers={"Authorization": f"Bearer {firm.token('carol', 'admin')}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


async def test_firmtext_open_prints_a_url_with_the_token_in_the_fragment(settings):
    code, out, err = await run_cli(settings, "open", "--firm", "demo", "--user", "alice")
    assert code == 0, err
    url = out.strip()
    assert url.startswith(f"{settings.public_url}/app/#token=") and "?" not in url


async def test_a_host_sync_without_notify_keeps_the_users_own_choice(firm):
    await firm.as_user("alice", "PUT", "/v1/me", json={"notify": {"desktop": "clients"}})
    r = await firm.admin("PUT", "/v1/users/alice", {"name": "Alice Chen", "email": "alice@firm.test",
                                                    "permissions": ["texting"]})
    assert r.status_code == 200 and r.json()["notify"] == {"email": "none", "desktop": "clients"}
    r = await firm.admin("PUT", "/v1/users/alice", {"name": "Alice Chen", "permissions": ["texting"],
                                                    "notify": {"email": "both", "desktop": "none"}})
    assert r.json()["notify"] == {"email": "both", "desktop": "none"}  # sent explicitly: the host's value wins
